//! Outgoing HTTP requests, performed by the host.
//!
//! The host only lets requests through to the hosts listed in the manifest's `allowed_hosts`;
//! a denied or failed request ends the call with the host's error.
//!
//! ```ignore
//! let response = http::Request::new("POST", "https://example.com/api")
//!     .header("Content-Type", "text/plain")
//!     .body("hello")
//!     .send();
//! assert_eq!(response.status(), 200);
//! ```
//!
//! Response headers: [`response_headers`] after a request, when plugin.yaml sets
//! `permissions.http_response_headers: true` and the user grants it (else `None`).

use crate::json::{self, quote};
use crate::{sys, Memory};

/// An HTTP request under construction.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

/// The response of [`Request::send`].
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    body: Vec<u8>,
}

/// A `GET` request to `url`, sent with no extra headers.
pub fn get(url: &str) -> Response {
    Request::new("GET", url).send()
}

impl Request {
    /// A request with `method` (e.g. `"GET"`, `"POST"`) to `url`.
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Add the header `name: value`.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Send `body` with the request.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// The request as the host expects it: `{"url":…,"method":…,"headers":{…}}`.
    fn to_json(&self) -> String {
        let mut json = String::from("{\"url\":");
        json.push_str(&quote(&self.url));
        json.push_str(",\"method\":");
        json.push_str(&quote(&self.method));
        json.push_str(",\"headers\":{");
        for (i, (name, value)) in self.headers.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&quote(name));
            json.push(':');
            json.push_str(&quote(value));
        }
        json.push_str("}}");
        json
    }

    /// Perform the request and wait for the whole response.
    pub fn send(&self) -> Response {
        let request = Memory::from_bytes(self.to_json().as_bytes());
        let body = self.body.as_deref().map(Memory::from_bytes);
        let offset = unsafe { sys::http_request(request.offset(), body.map_or(0, |b| b.offset())) };
        let status = unsafe { sys::http_status_code() };
        request.free();
        if let Some(body) = body {
            body.free();
        }
        let body = match Memory::find(offset) {
            Some(memory) => {
                let data = memory.load();
                memory.free();
                data
            }
            None => Vec::new(),
        };
        Response {
            status: status as u16,
            body,
        }
    }
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The response body, by value.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// The headers of the last response (names in lower case, repeated headers joined with ", "),
/// or `None` when the host does not hand them over: the plugin must declare
/// `permissions.http_response_headers: true` and the user must grant it.
///
/// ```ignore
/// let response = http::get("https://example.com/");
/// let etag = http::response_headers().and_then(|h| h.get("etag").and_then(|v| v.as_str().map(String::from)));
/// ```
pub fn response_headers() -> Option<json::Value> {
    let offset = unsafe { sys::http_headers() };
    let memory = Memory::find(offset)?;
    let data = memory.load();
    memory.free();
    json::parse_bytes(&data).ok()
}
