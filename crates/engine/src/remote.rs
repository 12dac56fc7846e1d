//! The service, as the engine sees it: a trait, so the simulator can stand in
//! for it, and `HttpRemote`, which speaks `/v1` over HTTP(S) with rustls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nubo_protocol::frames;
use nubo_protocol::{
    AcceptItem, AcceptRequest, AccountInfo, AccountSummary, AgreementList, AgreementStatus,
    ApiError, ApproveRequest, CancelRequest, ChangesResponse, CommitBatchRequest,
    CommitBatchResponse, CommitRequest, DeclineRequest, DeleteRequest, DeviceCodeRequest,
    DeviceCodeResponse, DeviceList, DeviceTokenRequest, ErrorCode, FetchChunksRequest,
    LoginRequest, Manifest, MissingChunksRequest, MissingChunksResponse, MkdirRequest, MoveRequest,
    Node, NodeId, PasswordChange, PendingSignIn, PushEvent, RefreshRequest, RestoreRequest,
    RestoreResponse, TokenResponse, TrashList, VersionList, WithdrawRequest,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::report::NetCause;

/// A request that did not get the answer it wanted: the service's own
/// error, or no usable answer at all (with the network stack's error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoteError {
    #[error("{0}")]
    Api(ApiError),
    #[error("cannot reach the service ({cause:?})")]
    Network {
        cause: NetCause,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl RemoteError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RemoteError::Api(e) => Some(e.code),
            RemoteError::Network { .. } => None,
        }
    }

    /// A network failure of a kind, from any error (the simulator's dropped
    /// requests, answers that make no sense).
    pub fn network(
        cause: NetCause,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        RemoteError::Network {
            cause,
            source: Arc::from(source.into()),
        }
    }

    /// The network failure's kind, if it is one.
    pub fn net_cause(&self) -> Option<NetCause> {
        match self {
            RemoteError::Network { cause, .. } => Some(*cause),
            RemoteError::Api(_) => None,
        }
    }

    /// The whole chain of the network stack's errors, for a person reading
    /// a log or a CLI message.
    pub fn detail(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message = format!("{message}: {text}");
            }
            source = s.source();
        }
        message
    }
}

pub type RemoteResult<T> = Result<T, RemoteError>;

/// What the sync loop asks of the service: the account's root, the change
/// feed, nodes and chunks.
#[async_trait]
pub trait Remote: Send + Sync {
    async fn account(&self) -> RemoteResult<AccountInfo>;
    /// The feed after `cursor`; `known` is the newest change number this
    /// client knows of, its own writes included (`HistoryRewound` when the
    /// service lost either).
    async fn changes(&self, cursor: i64, known: i64) -> RemoteResult<ChangesResponse>;
    async fn mkdir(&self, parent: NodeId, name: &str) -> RemoteResult<Node>;
    async fn commit(&self, req: &CommitRequest) -> RemoteResult<Node>;
    /// Several commits in one request (at most `MAX_BATCH`); each result is
    /// what `commit` alone would have answered.
    async fn commit_many(&self, reqs: &[CommitRequest]) -> RemoteResult<Vec<RemoteResult<Node>>>;
    async fn move_node(&self, id: NodeId, parent: NodeId, name: &str) -> RemoteResult<Node>;
    async fn delete(&self, id: NodeId, req: &DeleteRequest) -> RemoteResult<Node>;
    async fn manifest(&self, id: NodeId) -> RemoteResult<Manifest>;
    async fn missing_chunks(&self, hashes: &[String]) -> RemoteResult<Vec<String>>;
    async fn put_chunk(&self, hash: &str, data: Vec<u8>) -> RemoteResult<()>;
    async fn get_chunk(&self, hash: &str) -> RemoteResult<Vec<u8>>;
    /// Several chunks in one request: (name, bytes) each.
    async fn put_chunks(&self, chunks: &[(String, Vec<u8>)]) -> RemoteResult<()>;
    /// Several chunks in one answer, in the order asked.
    async fn get_chunks(&self, hashes: &[String]) -> RemoteResult<Vec<Vec<u8>>>;
}

/// The account's administration on the service: agreements, devices, the
/// trash and versions, the account itself. Not the sync loop's (`Remote`):
/// the simulator has none.
#[async_trait]
pub trait AccountRemote: Send + Sync {
    async fn agreements(&self) -> RemoteResult<AgreementList>;
    /// A document's text: of `version` (any ever published), else the one in force.
    async fn agreement_text(
        &self,
        id: &str,
        locale: &str,
        version: Option<&str>,
    ) -> RemoteResult<String>;
    /// Every version of every document the service ever published.
    async fn agreement_versions(&self) -> RemoteResult<AgreementList>;
    /// Records that the user declined these documents, as shown.
    async fn decline(&self, shown: &[AcceptItem]) -> RemoteResult<AgreementStatus>;
    /// What the account stores, with sizes.
    async fn account_summary(&self) -> RemoteResult<AccountSummary>;
    async fn change_password(&self, req: &PasswordChange) -> RemoteResult<()>;
    async fn agreement_status(&self) -> RemoteResult<AgreementStatus>;
    async fn accept(&self, req: &AcceptRequest) -> RemoteResult<AgreementStatus>;
    async fn logout(&self) -> RemoteResult<()>;
    async fn devices(&self) -> RemoteResult<DeviceList>;
    async fn revoke_device(&self, id: i64) -> RemoteResult<()>;
    async fn trash(&self, query: &str, offset: u32, limit: u32) -> RemoteResult<TrashList>;
    /// The node at a path from the account's top folder (live, else deleted last).
    async fn lookup(&self, path: &str) -> RemoteResult<Node>;
    async fn versions(&self, id: NodeId) -> RemoteResult<VersionList>;
    async fn restore(&self, req: &RestoreRequest) -> RemoteResult<RestoreResponse>;
    /// Deletes the account and all it stores; `confirm` is its account ID.
    async fn cancel_account(&self, confirm: &str) -> RemoteResult<()>;
    /// Takes back consent to an optional document.
    async fn withdraw(&self, id: &str) -> RemoteResult<AgreementStatus>;
    /// Approves a device-code sign-in into this account.
    async fn approve_device(&self, user_code: &str) -> RemoteResult<()>;
    /// The device waiting with a sign-in code, to show before approving it.
    async fn waiting_sign_in(&self, user_code: &str) -> RemoteResult<PendingSignIn> {
        let _ = user_code;
        Err(RemoteError::Api(ApiError::new(
            ErrorCode::NotFound,
            "this service cannot show waiting sign-ins",
        )))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// Called with new tokens after each refresh, to keep them.
pub type TokenSaver = Arc<dyn Fn(&Tokens) + Send + Sync>;

/// Tokens kept where other processes of the same home read them too (the
/// app and a `nubo` command at once). A refresh token works once: a
/// process holding one another process already spent would sign the
/// device out with it. So a refresh takes the home's lock file first, and
/// takes over tokens another process refreshed meanwhile.
#[derive(Clone)]
pub struct SharedTokens {
    /// Locked (`File::lock`) for the whole of a refresh.
    pub lock: std::path::PathBuf,
    /// The tokens as kept now.
    pub load: Arc<dyn Fn() -> Option<Tokens> + Send + Sync>,
}

pub struct HttpRemote {
    base: String,
    client: reqwest::Client,
    tokens: Mutex<Tokens>,
    /// One refresh at a time: the refresh token rotates, so concurrent
    /// refreshes with the same one would sign the device out.
    refreshing: tokio::sync::Mutex<()>,
    save: TokenSaver,
    shared: Option<SharedTokens>,
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

fn client() -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // A connection that died without a word (a laptop moved networks)
        // is found by the kernel's probes, which wake nothing here: the push
        // channel can stay open for hours with no timer of ours running.
        .tcp_keepalive(Duration::from_secs(60))
        .tcp_keepalive_interval(Duration::from_secs(15))
        .tcp_keepalive_retries(4u32)
        .user_agent(concat!("nubo/", env!("CARGO_PKG_VERSION")));
    // A self-hosted service with its own certificate authority: trust it in
    // addition to the public roots.
    if let Some(path) = std::env::var_os("NUBO_CA_FILE") {
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()))
        {
            Ok(certs) => {
                for c in certs {
                    builder = builder.add_root_certificate(c);
                }
            }
            Err(e) => tracing::error!(
                "NUBO_CA_FILE={}: cannot use it ({e}); only the public roots are trusted",
                std::path::Path::new(&path).display()
            ),
        }
    }
    builder
        .build()
        .expect("the HTTP client builds with static settings")
}

/// Plain HTTP only to this machine: anywhere else tokens would cross the
/// network in the clear.
pub fn check_server_url(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("{url:?} is not a server address: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            if !loopback {
                anyhow::bail!(
                    "refusing plain http:// to {url}: use https:// (plain HTTP is only for this machine)"
                );
            }
        }
        other => anyhow::bail!("{url:?}: unsupported scheme {other}; use https://"),
    }
    Ok(url.trim_end_matches('/').to_string())
}

async fn decode_error(resp: reqwest::Response) -> RemoteError {
    let status = resp.status();
    match resp.json::<ApiError>().await {
        Ok(e) => RemoteError::Api(e),
        Err(_) => RemoteError::Api(ApiError::new(
            if status == StatusCode::UNAUTHORIZED {
                ErrorCode::Unauthorized
            } else {
                ErrorCode::Internal
            },
            format!("the service answered {status}"),
        )),
    }
}

/// Classified by type: reqwest says whether it could not connect or timed
/// out; a certificate the TLS stack refused is a rustls error in the chain.
fn net(e: reqwest::Error) -> RemoteError {
    let cause = if chain_has::<rustls::Error>(&e) {
        NetCause::Certificate
    } else if e.is_timeout() {
        NetCause::TimedOut
    } else if e.is_connect() {
        NetCause::Connect
    } else {
        NetCause::Broken
    };
    RemoteError::network(cause, e)
}

/// Whether an error of type `T` lies in `e`'s chain of sources (TLS errors
/// reach reqwest wrapped in `io::Error`s).
fn chain_has<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut at = Some(e);
    while let Some(err) = at {
        if err.is::<T>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.get_ref().is_some_and(|inner| chain_has::<T>(inner)) {
                return true;
            }
        }
        at = err.source();
    }
    false
}

/// An answer that does not follow the protocol: treated like a dropped
/// connection (the operation is tried again later), and said so.
#[derive(Debug, thiserror::Error)]
#[error("the service's answer made no sense: {0}")]
pub struct Garbled(String);

fn garbled(what: impl std::fmt::Display) -> RemoteError {
    RemoteError::network(NetCause::Broken, Garbled(what.to_string()))
}

/// Whether a request may be sent again after its connection broke midway.
/// One that reads, or stores content under its own hash, does the same the
/// second time. A commit, a move, a refresh may already have been done by
/// the service, so it is sent again only when it never left (`is_stale_connection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    IfUnsent,
    IfBroken,
}

/// The POSTs that only read, or store chunks by their hash.
const IDEMPOTENT_POSTS: [&str; 3] = [
    "/v1/chunks/missing",
    "/v1/chunks/upload",
    "/v1/chunks/fetch",
];

impl Replay {
    /// GET and PUT are idempotent by HTTP's definition (RFC 9110, 9.2.2);
    /// this protocol keeps them so (a chunk is PUT under its hash), but for
    /// sign-in's: a waiting sign-in looked up by its code counts a guess.
    fn of(method: &Method, path: &str) -> Self {
        let idempotent = (matches!(*method, Method::GET | Method::PUT)
            && !path.starts_with("/v1/auth/"))
            || (*method == Method::POST && IDEMPOTENT_POSTS.contains(&path));
        match idempotent {
            true => Replay::IfBroken,
            false => Replay::IfUnsent,
        }
    }

    /// Whether to send again after `e`, counting the tries in `broken`.
    fn again(self, e: &RemoteError, broken: &mut usize) -> bool {
        let again = self == Replay::IfBroken
            && e.net_cause() == Some(NetCause::Broken)
            && *broken < BROKEN_TRIES;
        if again {
            tracing::debug!("{}; sending again", e.detail());
            *broken += 1;
        }
        again
    }
}

/// Sends, and again where that is safe:
/// - A pooled connection the service had just closed (it closes one whose
///   request body it did not read, such as an upload refused with 401): the
///   request never reached it. Seen as a flake when many transfers hit an
///   expired token at once; the pool may hold several such connections, so
///   up to one more try than it keeps per host.
/// - A connection that broke while an idempotent request was on it (a
///   service restarted, a proxy that dropped it, a reset while the body was
///   still being written): once or twice more on a fresh one, as the pass
///   would otherwise fail for a moment's break. A timeout is not sent again
///   here (it already waited `REQUEST_TIMEOUT`).
async fn send_retrying<F, Fut>(replay: Replay, send: F) -> RemoteResult<reqwest::Response>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let (mut stale, mut broken) = (0, 0);
    loop {
        let e = match send().await {
            Ok(resp) => return Ok(resp),
            Err(e) => e,
        };
        if is_stale_connection(&e) && stale < STALE_TRIES {
            stale += 1;
            continue;
        }
        let e = net(e);
        if !replay.again(&e, &mut broken) {
            return Err(e);
        }
    }
}

/// How many stale pooled connections one request may meet in a row.
const STALE_TRIES: usize = 9;

/// How many times an idempotent request is sent again after its connection
/// broke.
const BROKEN_TRIES: usize = 2;

/// hyper's own error for it: its request was never sent, it says
/// (`is_incomplete_message` on a request that was not written).
fn is_stale_connection(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// A request before sign-in: no token, one JSON body, one JSON answer.
async fn post_unsigned<T: DeserializeOwned>(
    server: &str,
    path: &str,
    body: &impl Serialize,
) -> RemoteResult<T> {
    let resp = client()
        .post(format!("{server}{path}"))
        .timeout(REQUEST_TIMEOUT)
        .json(body)
        .send()
        .await
        .map_err(net)?;
    if !resp.status().is_success() {
        return Err(decode_error(resp).await);
    }
    resp.json().await.map_err(net)
}

/// A request before sign-in that reads: the published agreements and
/// their texts are public, shown before anything is sent about the device.
async fn get_unsigned(server: &str, path: &str) -> RemoteResult<reqwest::Response> {
    let resp = client()
        .get(format!("{server}{path}"))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(net)?;
    if !resp.status().is_success() {
        return Err(decode_error(resp).await);
    }
    Ok(resp)
}

/// The agreements a service publishes now (`versions`: every version it
/// ever published), before sign-in.
pub async fn public_agreements(server: &str, versions: bool) -> RemoteResult<AgreementList> {
    let path = if versions {
        "/v1/agreements/versions"
    } else {
        "/v1/agreements"
    };
    get_unsigned(server, path).await?.json().await.map_err(net)
}

/// `?version=V` for a document's text, or nothing for the version in force.
fn version_query(version: Option<&str>) -> String {
    version
        .map(|v| {
            let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("?version={v}")
        })
        .unwrap_or_default()
}

/// A document's text before sign-in (of `version`, else the one in force).
pub async fn public_agreement_text(
    server: &str,
    id: &str,
    locale: &str,
    version: Option<&str>,
) -> RemoteResult<String> {
    let query = version_query(version);
    get_unsigned(server, &format!("/v1/agreements/{id}/{locale}{query}"))
        .await?
        .text()
        .await
        .map_err(net)
}

/// Password sign-in. The password goes to the service once and is not kept.
pub async fn login(
    server: &str,
    login: &str,
    password: &str,
    device_name: &str,
) -> RemoteResult<TokenResponse> {
    let req = LoginRequest {
        login: login.to_string(),
        password: password.to_string(),
        device_name: device_name.to_string(),
        os: std::env::consts::OS.to_string(),
    };
    post_unsigned(server, "/v1/auth/login", &req).await
}

/// Starts a sign-in by device code (RFC 8628).
pub async fn device_code_start(
    server: &str,
    device_name: &str,
) -> RemoteResult<DeviceCodeResponse> {
    let req = DeviceCodeRequest {
        device_name: device_name.to_string(),
        os: std::env::consts::OS.to_string(),
    };
    post_unsigned(server, "/v1/auth/device", &req).await
}

/// One poll of a device-code sign-in: the tokens once approved, else the
/// service's `authorization_pending`, `slow_down` or `expired_token`.
pub async fn device_code_poll(server: &str, device_code: &str) -> RemoteResult<TokenResponse> {
    let req = DeviceTokenRequest {
        device_code: device_code.to_string(),
    };
    post_unsigned(server, "/v1/auth/device/token", &req).await
}

enum Body {
    None,
    Json(serde_json::Value),
    /// Shared, so that a retried request sends it again without a copy.
    Bytes(bytes::Bytes),
}

impl HttpRemote {
    pub fn new(server: &str, tokens: Tokens, save: TokenSaver) -> Self {
        HttpRemote {
            base: server.trim_end_matches('/').to_string(),
            client: client(),
            tokens: Mutex::new(tokens),
            refreshing: tokio::sync::Mutex::new(()),
            save,
            shared: None,
        }
    }

    /// Refreshes in turn with other processes keeping the same tokens.
    pub fn shared_with(mut self, shared: SharedTokens) -> Self {
        self.shared = Some(shared);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn access(&self) -> String {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .access
            .clone()
    }

    /// Refreshes the tokens, unless another request already did since
    /// `stale_access` was sent.
    async fn refresh(&self, stale_access: &str) -> RemoteResult<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        if self.access() != stale_access {
            return Ok(());
        }
        let _one_process_at_a_time = match &self.shared {
            Some(shared) => {
                let lock = lock_for_refresh(&shared.lock).await;
                if self.took_over_refreshed(shared) {
                    return Ok(());
                }
                lock
            }
            None => None,
        };
        let refresh = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refresh
            .clone();
        let req = RefreshRequest {
            refresh_token: refresh,
        };
        let resp = send_retrying(Replay::IfUnsent, || {
            self.client
                .post(format!("{}/v1/auth/refresh", self.base))
                .timeout(REQUEST_TIMEOUT)
                .json(&req)
                .send()
        })
        .await?;
        if !resp.status().is_success() {
            return Err(decode_error(resp).await);
        }
        let t: TokenResponse = resp.json().await.map_err(net)?;
        let tokens = Tokens {
            access: t.access_token,
            refresh: t.refresh_token,
        };
        (self.save)(&tokens);
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = tokens;
        Ok(())
    }

    /// Takes the kept tokens if another process refreshed since this one
    /// read them; whether it did.
    fn took_over_refreshed(&self, shared: &SharedTokens) -> bool {
        let Some(kept) = (shared.load)() else {
            return false;
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if kept.refresh == tokens.refresh {
            return false;
        }
        *tokens = kept;
        true
    }

    /// Sends with the access token; on 401 refreshes and retries. Twice at
    /// most: a token refreshed just before the service's clock ticks over its
    /// expiry second can be refused once more. A revoked device fails at the
    /// refresh itself.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> RemoteResult<reqwest::Response> {
        self.send_ref(&method, path, &body).await
    }

    async fn send_ref(
        &self,
        method: &Method,
        path: &str,
        body: &Body,
    ) -> RemoteResult<reqwest::Response> {
        const REFRESHES: usize = 2;
        for attempt in 0..=REFRESHES {
            let access = self.access();
            let resp = send_retrying(Replay::of(method, path), || {
                let req = self
                    .client
                    .request(method.clone(), format!("{}{path}", self.base))
                    .timeout(REQUEST_TIMEOUT)
                    .bearer_auth(&access);
                match body {
                    Body::None => req,
                    Body::Json(v) => req.json(v),
                    Body::Bytes(b) => req
                        .header("content-type", "application/octet-stream")
                        .body(b.clone()),
                }
                .send()
            })
            .await?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt < REFRESHES {
                self.refresh(&access).await?;
                continue;
            }
            if !resp.status().is_success() {
                return Err(decode_error(resp).await);
            }
            return Ok(resp);
        }
        unreachable!("the loop returns on its last pass")
    }

    /// Sends and reads the whole answer with `read`. Where the request is
    /// idempotent, an answer whose connection broke midway is asked for
    /// again, twice at most, as a request that broke on its way is
    /// (`send_retrying`, which counts its own tries). An answer that came
    /// whole but does not parse is not asked for again.
    async fn answer<T, R, Fut>(
        &self,
        method: Method,
        path: &str,
        body: Body,
        read: R,
    ) -> RemoteResult<T>
    where
        R: Fn(reqwest::Response) -> Fut,
        Fut: std::future::Future<Output = reqwest::Result<T>>,
    {
        let replay = Replay::of(&method, path);
        let mut broken = 0;
        loop {
            let resp = self.send_ref(&method, path, &body).await?;
            let e = match read(resp).await {
                Ok(answer) => return Ok(answer),
                // Not the connection (reqwest says "decode" of a body cut
                // short too): the answer itself.
                Err(e) if e.is_decode() && !chain_has::<hyper::Error>(&e) => return Err(net(e)),
                Err(e) => net(e),
            };
            if !replay.again(&e, &mut broken) {
                return Err(e);
            }
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body,
    ) -> RemoteResult<T> {
        self.answer(method, path, body, |resp| resp.json()).await
    }

    async fn bytes(&self, method: Method, path: &str, body: Body) -> RemoteResult<bytes::Bytes> {
        self.answer(method, path, body, |resp| resp.bytes()).await
    }

    /// Follows the push channel, sending each new cursor to `tx`, until the
    /// connection ends (then the caller falls back to polling and retries).
    pub async fn follow_events(&self, tx: tokio::sync::mpsc::Sender<i64>) -> RemoteResult<()> {
        use futures::StreamExt;
        let resp = self
            .client
            .get(format!("{}/v1/events", self.base))
            .bearer_auth(self.access())
            .send()
            .await
            .map_err(net)?;
        if !resp.status().is_success() {
            return Err(decode_error(resp).await);
        }
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(part) = stream.next().await {
            buf.push_str(&String::from_utf8_lossy(&part.map_err(net)?));
            while let Some(i) = buf.find('\n') {
                let line: String = buf.drain(..=i).collect();
                if let Some(data) = line.trim_end().strip_prefix("data:") {
                    if let Ok(ev) = serde_json::from_str::<PushEvent>(data.trim()) {
                        if tx.send(ev.cursor).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn to_json(v: impl Serialize) -> Body {
    Body::Json(serde_json::to_value(v).expect("request types serialise"))
}

#[async_trait]
impl Remote for HttpRemote {
    async fn account(&self) -> RemoteResult<AccountInfo> {
        self.json(Method::GET, "/v1/account", Body::None).await
    }
    async fn changes(&self, cursor: i64, known: i64) -> RemoteResult<ChangesResponse> {
        self.json(
            Method::GET,
            &format!("/v1/changes?cursor={cursor}&known={known}&limit=5000"),
            Body::None,
        )
        .await
    }
    async fn mkdir(&self, parent: NodeId, name: &str) -> RemoteResult<Node> {
        let req = MkdirRequest {
            parent,
            name: name.to_string(),
        };
        self.json(Method::POST, "/v1/nodes/mkdir", to_json(req))
            .await
    }
    async fn commit(&self, req: &CommitRequest) -> RemoteResult<Node> {
        self.json(Method::POST, "/v1/nodes/commit", to_json(req))
            .await
    }
    async fn move_node(&self, id: NodeId, parent: NodeId, name: &str) -> RemoteResult<Node> {
        let req = MoveRequest {
            parent,
            name: name.to_string(),
        };
        self.json(Method::POST, &format!("/v1/nodes/{id}/move"), to_json(req))
            .await
    }
    async fn delete(&self, id: NodeId, req: &DeleteRequest) -> RemoteResult<Node> {
        self.json(
            Method::POST,
            &format!("/v1/nodes/{id}/delete"),
            to_json(req),
        )
        .await
    }
    async fn manifest(&self, id: NodeId) -> RemoteResult<Manifest> {
        self.json(Method::GET, &format!("/v1/nodes/{id}/manifest"), Body::None)
            .await
    }
    async fn missing_chunks(&self, hashes: &[String]) -> RemoteResult<Vec<String>> {
        let req = MissingChunksRequest {
            hashes: hashes.to_vec(),
        };
        let resp: MissingChunksResponse = self
            .json(Method::POST, "/v1/chunks/missing", to_json(req))
            .await?;
        Ok(resp.missing)
    }
    async fn put_chunk(&self, hash: &str, data: Vec<u8>) -> RemoteResult<()> {
        self.send(
            Method::PUT,
            &format!("/v1/chunks/{hash}"),
            Body::Bytes(data.into()),
        )
        .await?;
        Ok(())
    }
    async fn get_chunk(&self, hash: &str) -> RemoteResult<Vec<u8>> {
        let path = format!("/v1/chunks/{hash}");
        Ok(self.bytes(Method::GET, &path, Body::None).await?.to_vec())
    }
    async fn commit_many(&self, reqs: &[CommitRequest]) -> RemoteResult<Vec<RemoteResult<Node>>> {
        let req = CommitBatchRequest {
            commits: reqs.to_vec(),
        };
        let resp: CommitBatchResponse = self
            .json(Method::POST, "/v1/nodes/commit-batch", to_json(req))
            .await?;
        if resp.results.len() != reqs.len() {
            return Err(garbled(format!(
                "{} results for {} commits",
                resp.results.len(),
                reqs.len()
            )));
        }
        Ok(resp
            .results
            .into_iter()
            .map(|r| match (r.node, r.error) {
                (Some(node), None) => Ok(node),
                (_, Some(e)) => Err(RemoteError::Api(e)),
                (None, None) => Err(garbled("a commit result with neither node nor error")),
            })
            .collect())
    }
    async fn put_chunks(&self, chunks: &[(String, Vec<u8>)]) -> RemoteResult<()> {
        let body = frames::encode(chunks.iter().map(|(h, d)| (h.as_str(), d.as_slice())));
        self.send(Method::POST, "/v1/chunks/upload", Body::Bytes(body.into()))
            .await?;
        Ok(())
    }
    async fn get_chunks(&self, hashes: &[String]) -> RemoteResult<Vec<Vec<u8>>> {
        let req = FetchChunksRequest {
            hashes: hashes.to_vec(),
        };
        let body = self
            .bytes(Method::POST, "/v1/chunks/fetch", to_json(req))
            .await?;
        let parts = frames::decode(&body).map_err(garbled)?;
        if parts.len() != hashes.len() || parts.iter().zip(hashes).any(|((h, _), want)| h != want) {
            return Err(garbled("other chunks than the ones asked for"));
        }
        Ok(parts.into_iter().map(|(_, r)| body[r].to_vec()).collect())
    }
}

#[async_trait]
impl AccountRemote for HttpRemote {
    async fn agreements(&self) -> RemoteResult<AgreementList> {
        self.json(Method::GET, "/v1/agreements", Body::None).await
    }
    async fn agreement_text(
        &self,
        id: &str,
        locale: &str,
        version: Option<&str>,
    ) -> RemoteResult<String> {
        let query = version_query(version);
        let path = format!("/v1/agreements/{id}/{locale}{query}");
        self.answer(Method::GET, &path, Body::None, |resp| resp.text())
            .await
    }
    async fn agreement_versions(&self) -> RemoteResult<AgreementList> {
        self.json(Method::GET, "/v1/agreements/versions", Body::None)
            .await
    }
    async fn decline(&self, shown: &[AcceptItem]) -> RemoteResult<AgreementStatus> {
        let req = DeclineRequest {
            documents: shown.to_vec(),
        };
        self.json(Method::POST, "/v1/agreements/decline", to_json(req))
            .await
    }
    async fn account_summary(&self) -> RemoteResult<AccountSummary> {
        self.json(Method::GET, "/v1/account/summary", Body::None)
            .await
    }
    async fn change_password(&self, req: &PasswordChange) -> RemoteResult<()> {
        self.send(Method::POST, "/v1/account/password", to_json(req))
            .await?;
        Ok(())
    }
    async fn agreement_status(&self) -> RemoteResult<AgreementStatus> {
        self.json(Method::GET, "/v1/agreements/status", Body::None)
            .await
    }
    async fn accept(&self, req: &AcceptRequest) -> RemoteResult<AgreementStatus> {
        self.json(Method::POST, "/v1/agreements/accept", to_json(req))
            .await
    }
    async fn logout(&self) -> RemoteResult<()> {
        self.send(Method::POST, "/v1/auth/logout", Body::None)
            .await?;
        Ok(())
    }
    async fn devices(&self) -> RemoteResult<DeviceList> {
        self.json(Method::GET, "/v1/devices", Body::None).await
    }
    async fn revoke_device(&self, id: i64) -> RemoteResult<()> {
        self.send(
            Method::POST,
            &format!("/v1/devices/{id}/revoke"),
            Body::None,
        )
        .await?;
        Ok(())
    }
    async fn trash(&self, query: &str, offset: u32, limit: u32) -> RemoteResult<TrashList> {
        let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
        self.json(
            Method::GET,
            &format!("/v1/trash?q={q}&offset={offset}&limit={limit}"),
            Body::None,
        )
        .await
    }
    async fn lookup(&self, path: &str) -> RemoteResult<Node> {
        let p: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        self.json(Method::GET, &format!("/v1/lookup?path={p}"), Body::None)
            .await
    }
    async fn versions(&self, id: NodeId) -> RemoteResult<VersionList> {
        self.json(Method::GET, &format!("/v1/nodes/{id}/versions"), Body::None)
            .await
    }
    async fn restore(&self, req: &RestoreRequest) -> RemoteResult<RestoreResponse> {
        self.json(Method::POST, "/v1/restore", to_json(req)).await
    }
    async fn waiting_sign_in(&self, user_code: &str) -> RemoteResult<PendingSignIn> {
        let c: String = url::form_urlencoded::byte_serialize(user_code.as_bytes()).collect();
        self.json(
            Method::GET,
            &format!("/v1/auth/device/waiting?code={c}"),
            Body::None,
        )
        .await
    }
    async fn approve_device(&self, user_code: &str) -> RemoteResult<()> {
        let req = ApproveRequest {
            user_code: user_code.to_string(),
        };
        self.send(Method::POST, "/v1/auth/device/approve", to_json(req))
            .await?;
        Ok(())
    }
    async fn withdraw(&self, id: &str) -> RemoteResult<AgreementStatus> {
        let req = WithdrawRequest { id: id.to_string() };
        self.json(Method::POST, "/v1/agreements/withdraw", to_json(req))
            .await
    }
    async fn cancel_account(&self, confirm: &str) -> RemoteResult<()> {
        let req = CancelRequest {
            confirm: confirm.to_string(),
        };
        self.send(Method::POST, "/v1/account/cancel", to_json(req))
            .await?;
        Ok(())
    }
}

/// The home's refresh lock, held while the returned file is open; `None`
/// where it cannot be taken (the home's folder unwritable), and the refresh
/// goes ahead alone, as before there was a lock. Waiting for it blocks, so
/// it waits on a blocking thread.
async fn lock_for_refresh(path: &std::path::Path) -> Option<std::fs::File> {
    let path = path.to_path_buf();
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await;
    match locked {
        Ok(Ok(file)) => Some(file),
        Ok(Err(e)) => {
            tracing::warn!("cannot take the home's sign-in lock: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("cannot take the home's sign-in lock: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests;
