//! Connections that break, made by a real socket on loopback: a service
//! that reads a request and resets the connection, or sends half an answer.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the service does with each connection, in turn.
#[derive(Clone)]
enum Then {
    /// Reads the whole request, then resets the connection.
    Reset,
    /// Answers 200 with a body, but sends only its first half, then resets.
    HalfOf(&'static [u8]),
    /// Answers 200 with this body.
    Answer(&'static [u8]),
}

/// A service on 127.0.0.1 that plays `script`, one step per connection;
/// the count of requests it read.
async fn service(script: Vec<Then>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        for then in script {
            let (mut conn, _) = listener.accept().await.unwrap();
            read_request(&mut conn).await;
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            play(conn, then).await;
        }
    });
    (url, requests)
}

async fn play(mut conn: TcpStream, then: Then) {
    let head = |len: usize| format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
    match then {
        Then::Reset => {}
        Then::HalfOf(body) => {
            conn.write_all(head(body.len()).as_bytes()).await.unwrap();
            conn.write_all(&body[..body.len() / 2]).await.unwrap();
            conn.flush().await.unwrap();
        }
        Then::Answer(body) => {
            conn.write_all(head(body.len()).as_bytes()).await.unwrap();
            conn.write_all(body).await.unwrap();
            conn.flush().await.unwrap();
            // The client closes the connection it pooled when it is done.
            let _ = conn.read(&mut [0; 1]).await;
            return;
        }
    }
    conn.set_zero_linger().unwrap();
    drop(conn);
}

/// Reads a request's head and its body (by `content-length`).
async fn read_request(conn: &mut TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    let end = loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before its request was whole");
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while got.len() < end + len {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before its request was whole");
        got.extend_from_slice(&buf[..n]);
    }
}

fn remote(url: &str) -> HttpRemote {
    let tokens = Tokens {
        access: "access".into(),
        refresh: "refresh".into(),
    };
    HttpRemote::new(url, tokens, Arc::new(|_: &Tokens| {}))
}

fn sent(requests: &std::sync::atomic::AtomicUsize) -> usize {
    requests.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn a_question_whose_connection_broke_is_asked_again() {
    let missing = br#"{"missing":["aa"]}"#;
    let (url, requests) = service(vec![Then::Reset, Then::Answer(missing)]).await;
    let answer = remote(&url)
        .missing_chunks(&["aa".into(), "bb".into()])
        .await;
    assert_eq!(answer.unwrap(), vec!["aa".to_string()]);
    assert_eq!(sent(&requests), 2);
}

#[tokio::test]
async fn a_chunk_whose_answer_broke_midway_is_fetched_again() {
    let chunk: &[u8] = b"the bytes of a chunk, all of them";
    let (url, requests) = service(vec![Then::HalfOf(chunk), Then::Answer(chunk)]).await;
    let got = remote(&url).get_chunk("aa").await.unwrap();
    assert_eq!(got, chunk);
    assert_eq!(sent(&requests), 2);
}

#[tokio::test]
async fn an_upload_whose_connection_broke_is_sent_again() {
    let (url, requests) = service(vec![Then::Reset, Then::Reset, Then::Answer(b"")]).await;
    let upload = remote(&url).put_chunk("aa", vec![7; 100_000]).await;
    assert!(upload.is_ok(), "{upload:?}");
    assert_eq!(sent(&requests), 3);
}

/// A folder made, a version committed: the service may have done it before
/// the connection broke, so the pass fails and plans again from what is
/// there, rather than doing it twice.
#[tokio::test]
async fn a_change_whose_connection_broke_is_not_sent_again() {
    let node = br#"{"never":"read"}"#;
    let (url, requests) = service(vec![Then::Reset, Then::Answer(node)]).await;
    let made = remote(&url).mkdir(1, "photos").await;
    assert_eq!(made.unwrap_err().net_cause(), Some(NetCause::Broken));
    assert_eq!(sent(&requests), 1);
}

#[tokio::test]
async fn a_connection_that_keeps_breaking_fails_the_request() {
    let script = vec![Then::Reset; 1 + BROKEN_TRIES];
    let (url, requests) = service(script).await;
    let answer = remote(&url).missing_chunks(&["aa".into()]).await;
    assert_eq!(answer.unwrap_err().net_cause(), Some(NetCause::Broken));
    assert_eq!(sent(&requests), 1 + BROKEN_TRIES);
}

/// An answer that came whole but makes no sense (a proxy's page) is a
/// failure of the service, not of the connection: not asked for again.
#[tokio::test]
async fn an_answer_that_makes_no_sense_is_not_asked_for_again() {
    let missing = br#"{"missing":["aa"]}"#;
    let page = b"<html>a proxy's page</html>";
    let (url, requests) = service(vec![Then::Answer(page), Then::Answer(missing)]).await;
    let answer = remote(&url).missing_chunks(&["aa".into()]).await;
    assert!(answer.is_err(), "{answer:?}");
    assert_eq!(sent(&requests), 1);
}
