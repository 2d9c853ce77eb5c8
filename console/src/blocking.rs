//! Blocking work (SQLite, signature checks) from async code: [`run`] puts it on the
//! blocking pool, and a task that panicked comes back as the caller's own error.

/// A blocking task that did not finish (it panicked, or the runtime is shutting down).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a background task failed: {0}")]
pub struct TaskFailed(pub String);

/// Runs `work` on the blocking pool.
pub async fn run<T, E, F>(work: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<TaskFailed> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(E::from(TaskFailed(e.to_string()))))
}
