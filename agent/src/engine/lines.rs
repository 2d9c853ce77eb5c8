//! Turns the chunks of a container's output into bounded lines. Docker frames output
//! by write, not by line (and a TTY container's output is not framed at all), so a
//! line can arrive in pieces or be arbitrarily long; here it is reassembled and cut at
//! [`MAX_LOG_LINE_BYTES`], so a container cannot make the agent buffer without bound.

use std::collections::VecDeque;

use futures_util::{Stream, StreamExt};

use super::{EngineError, LogLine, LogStream, StdStream};

/// The longest log line passed on, in bytes; the rest of a longer line is dropped.
pub const MAX_LOG_LINE_BYTES: usize = 16 * 1024;

/// Splits a stream of output chunks into lines, per output stream.
pub(crate) fn split_lines<S, C>(chunks: S) -> LogStream
where
    S: Stream<Item = Result<(StdStream, C), EngineError>> + Send + 'static,
    C: AsRef<[u8]>,
{
    struct State<S> {
        chunks: std::pin::Pin<Box<S>>,
        stdout: LineSplitter,
        stderr: LineSplitter,
        ready: VecDeque<LogLine>,
        done: bool,
    }
    let state = State {
        chunks: Box::pin(chunks),
        stdout: LineSplitter::new(StdStream::Stdout, MAX_LOG_LINE_BYTES),
        stderr: LineSplitter::new(StdStream::Stderr, MAX_LOG_LINE_BYTES),
        ready: VecDeque::new(),
        done: false,
    };
    let lines = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(line) = state.ready.pop_front() {
                return Some((Ok(line), state));
            }
            if state.done {
                return None;
            }
            match state.chunks.next().await {
                Some(Ok((stream, chunk))) => {
                    let splitter = match stream {
                        StdStream::Stdout => &mut state.stdout,
                        StdStream::Stderr => &mut state.stderr,
                    };
                    splitter.push(chunk.as_ref(), &mut state.ready);
                }
                Some(Err(e)) => {
                    state.done = true;
                    return Some((Err(e), state));
                }
                None => {
                    state.done = true;
                    let State {
                        stdout,
                        stderr,
                        ready,
                        ..
                    } = &mut state;
                    ready.extend(stdout.finish());
                    ready.extend(stderr.finish());
                }
            }
        }
    });
    Box::pin(lines)
}

/// Reassembles the lines of one output stream, keeping at most `max` bytes of each.
pub(crate) struct LineSplitter {
    stream: StdStream,
    max: usize,
    line: Vec<u8>,
    truncated: bool,
}

impl LineSplitter {
    pub(crate) fn new(stream: StdStream, max: usize) -> Self {
        LineSplitter {
            stream,
            max,
            line: Vec::new(),
            truncated: false,
        }
    }

    /// Adds a chunk, appending each line it completes to `out`.
    pub(crate) fn push(&mut self, mut chunk: &[u8], out: &mut VecDeque<LogLine>) {
        while !chunk.is_empty() {
            let (piece, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => (&chunk[..at], true),
                None => (chunk, false),
            };
            let room = self.max.saturating_sub(self.line.len());
            if piece.len() > room {
                self.truncated = true;
            }
            self.line.extend_from_slice(&piece[..piece.len().min(room)]);
            if complete {
                out.push_back(self.take());
                chunk = &chunk[piece.len() + 1..];
            } else {
                chunk = &[];
            }
        }
    }

    /// The last line, if the output did not end with a line break.
    pub(crate) fn finish(&mut self) -> Option<LogLine> {
        (!self.line.is_empty() || self.truncated).then(|| self.take())
    }

    fn take(&mut self) -> LogLine {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let line = String::from_utf8_lossy(&self.line).into_owned();
        let truncated = std::mem::take(&mut self.truncated);
        self.line.clear();
        LogLine {
            stream: self.stream,
            line,
            truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&str], max: usize) -> Vec<(String, bool)> {
        let mut splitter = LineSplitter::new(StdStream::Stdout, max);
        let mut out = VecDeque::new();
        for chunk in chunks {
            splitter.push(chunk.as_bytes(), &mut out);
        }
        out.extend(splitter.finish());
        out.into_iter().map(|l| (l.line, l.truncated)).collect()
    }

    fn lines(expected: &[&str]) -> Vec<(String, bool)> {
        expected.iter().map(|l| (l.to_string(), false)).collect()
    }

    #[test]
    fn chunks_become_lines() {
        assert_eq!(split(&["a\nb\n"], 100), lines(&["a", "b"]));
        assert_eq!(
            split(&["he", "llo\nwor", "ld\n"], 100),
            lines(&["hello", "world"])
        );
        assert_eq!(
            split(&["no break at the end"], 100),
            lines(&["no break at the end"])
        );
        assert_eq!(split(&["\n\n"], 100), lines(&["", ""]));
        assert_eq!(split(&["crlf\r\n"], 100), lines(&["crlf"]));
        assert_eq!(split(&[], 100), lines(&[]));
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        assert_eq!(
            split(&["abcdefgh\nok\n"], 4),
            vec![("abcd".into(), true), ("ok".into(), false)]
        );
        assert_eq!(
            split(&["ab", "cd", "ef", "gh", "\n"], 4),
            vec![("abcd".into(), true)]
        );
        assert_eq!(split(&["abcdefgh"], 4), vec![("abcd".into(), true)]);
        assert_eq!(split(&["abcd\n"], 4), lines(&["abcd"]));
    }

    #[tokio::test]
    async fn streams_are_split_separately() {
        let chunks = futures_util::stream::iter(vec![
            Ok((StdStream::Stdout, b"out ".to_vec())),
            Ok((StdStream::Stderr, b"err\n".to_vec())),
            Ok((StdStream::Stdout, b"line\ntail".to_vec())),
        ]);
        let got: Vec<_> = split_lines(chunks)
            .map(|l| {
                let l = l.unwrap();
                (l.stream, l.line)
            })
            .collect()
            .await;
        assert_eq!(
            got,
            vec![
                (StdStream::Stderr, "err".to_string()),
                (StdStream::Stdout, "out line".to_string()),
                (StdStream::Stdout, "tail".to_string()),
            ]
        );
    }
}
