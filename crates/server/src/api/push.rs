use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use nubo_protocol::{ApiError, ErrorCode, PushEvent};
use tokio_stream::wrappers::BroadcastStream;

use super::session::FileSession;
use super::{AppError, AppState};

/// Server-sent events (only with consent to the push terms): one `change` event whenever the account's change feed
/// moves on, and one at once with the current cursor. A client that lagged
/// behind simply gets the newest cursor: it reads the feed from its own.
#[utoipa::path(get, path = "/v1/events", tag = "files", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = PushEvent), (status = 403, body = ApiError)))]
pub async fn events(
    State(state): State<AppState>,
    FileSession(s): FileSession,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let account = s.account;
    // Push is a service of its own terms: without consent to them in their
    // version in force, the client must poll instead.
    if !super::legal::push_consent(&state, account).await? {
        return Err(AppError::new(
            ErrorCode::ConsentRequired,
            "instant change notifications need consent to the push service terms; accept them, or keep polling",
        ));
    }
    // Subscribe before reading the cursor so no change falls between the two.
    let rx = state.changes.subscribe();
    let cursor = state.store(move |st| st.current_cursor(account)).await?;
    let first = stream::once(async move { Some(cursor) });
    let later = BroadcastStream::new(rx).filter_map(move |msg| async move {
        match msg {
            Ok((a, c)) if a == account => Some(Some(c)),
            Ok(_) => None,
            // Lagged: some notifications were dropped; tell the client to look.
            Err(_) => Some(None),
        }
    });
    let stream = first.chain(later).map(move |c| {
        let data = serde_json::to_string(&PushEvent {
            cursor: c.unwrap_or(-1),
        })
        .unwrap_or_default();
        Ok(Event::default().event("change").data(data))
    });
    // A comment line now and then keeps reverse proxies from closing an idle
    // stream (nginx gives up after 60 s by default); any more often would
    // only wake idle clients. Dead peers are found by TCP keepalive.
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(50))))
}
