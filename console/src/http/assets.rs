//! The embedded admin UI. Known files are served with their type (hashed assets cached
//! for good); every other GET outside `/api` answers `index.html`, so the SPA's own
//! routes (`/setup`, `/settings/tls`, ...) work on reload.

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::http::{HeaderValue, StatusCode};
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Outpost</title>\
<p>The Outpost console is running, but this binary was built without its UI. \
Build it with <code>make build</code>. The API is available under <code>/api/v1</code>.";

pub fn routes() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::get()
        .or(warp::head())
        .unify()
        .and(warp::path::full())
        .map(|path: FullPath| serve(path.as_str()))
}

fn serve(path: &str) -> Response {
    let relative = path.trim_start_matches('/');
    if let Some(bytes) = find(relative) {
        let immutable = relative.starts_with("assets/");
        return respond(relative, bytes, immutable);
    }
    match find("index.html") {
        Some(index) => respond("index.html", index, false),
        None => {
            warp::reply::with_status(warp::reply::html(NOT_BUILT), StatusCode::OK).into_response()
        }
    }
}

fn find(relative: &str) -> Option<&'static [u8]> {
    if relative.is_empty() {
        return None;
    }
    embedded::FILES
        .iter()
        .find(|(name, _)| *name == relative)
        .map(|(_, bytes)| *bytes)
}

fn respond(name: &str, bytes: &'static [u8], immutable: bool) -> Response {
    let mut response = Response::new(bytes.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    response
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
