//! Helpers shared by the integration tests.

/// A minimal HTTP/1.0 request, enough for health checks and the simulator's private paths
/// without an HTTP client dependency. Returns the status code and the body.
pub async fn http(method: &str, url: &str) -> std::io::Result<(u16, String)> {
    http_with_body(method, url, "").await
}

/// Like `http`, with a request body.
pub async fn http_with_body(method: &str, url: &str, body: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!(
                "{method} /{path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// GET that fails unless the answer is 200; returns the body.
pub async fn http_get(url: &str) -> std::io::Result<String> {
    match http("GET", url).await? {
        (200, body) => Ok(body),
        (status, _) => Err(std::io::Error::other(format!("HTTP {status}"))),
    }
}
