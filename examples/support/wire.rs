//! Reads HTTP/1.1 requests off a connection for the two fake Runtime APIs (this folder's
//! `runtime_api.rs` for the benchmark, `tests/api/support/fake_runtime.rs` for the tests), as
//! Lambda's own Runtime API does: a body sized by `Content-Length`, or chunked, in which case
//! each chunk and the trailers are kept, so tests can check how a streamed answer was framed.

// Each includer uses part of it.
#![allow(dead_code)]

use std::io::{self, BufRead};

/// A body larger than this is refused with an error rather than read: far above Lambda's
/// 200 MB streaming limit, so only a broken client reaches it.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One request as it arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Names lower case, in order, one entry per line.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// A chunked body's chunks, as they were framed; empty for a `Content-Length` body.
    pub chunks: Vec<Vec<u8>>,
    /// A chunked body's trailer fields, names lower case.
    pub trailers: Vec<(String, String)>,
}

impl Request {
    /// The first value of the header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body came chunked.
    pub fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    }
}

/// Reads the next request; `None` once the client has closed the connection between requests.
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let Some(request_line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line {request_line:?}")));
    };
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: read_fields(reader)?,
        ..Request::default()
    };
    if request.chunked() {
        read_chunks(reader, &mut request)?;
    } else {
        let length = match request.header("content-length") {
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| invalid(format!("bad Content-Length {value:?}")))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(invalid(format!("a body of {length} bytes")));
        }
        request.body = vec![0; length];
        reader.read_exact(&mut request.body)?;
    }
    Ok(Some(request))
}

/// `size CRLF data CRLF` until the zero-size chunk, then the trailer section.
fn read_chunks(reader: &mut impl BufRead, request: &mut Request) -> io::Result<()> {
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("the body ended early".into()))?;
        // A chunk extension (`;name=value`) may follow the size.
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            request.trailers = read_fields(reader)?;
            return Ok(());
        }
        if request.body.len() + size > MAX_BODY {
            return Err(invalid("a chunked body over the limit".into()));
        }
        let mut chunk = vec![0; size];
        reader.read_exact(&mut chunk)?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(invalid("a chunk not followed by CRLF".into()));
        }
        request.body.extend_from_slice(&chunk);
        request.chunks.push(chunk);
    }
}

/// Header or trailer fields up to the empty line.
fn read_fields(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut fields = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("the head ended early".into()))?;
        if line.is_empty() {
            return Ok(fields);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad field line {line:?}")))?;
        fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

/// One line without its CRLF; `None` at the end of the stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_body_keeps_its_chunks_and_trailers() {
        let raw = b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nabc\r\n2;x=y\r\n\0\0\r\n0\r\nLambda-Runtime-Function-Error-Type: E\r\n\r\n";
        let request = read_request(&mut &raw[..]).unwrap().unwrap();
        assert_eq!(request.body, b"abc\0\0");
        assert_eq!(request.chunks, [b"abc".to_vec(), b"\0\0".to_vec()]);
        assert_eq!(
            request.trailers,
            [("lambda-runtime-function-error-type".into(), "E".into())]
        );
    }
}
