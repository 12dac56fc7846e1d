//! The service at scale: several instances on one PostgreSQL database and
//! one S3 bucket behave as one service, and a service that ran on its data
//! folder moves there without losing anything. These need PostgreSQL, so
//! they are ignored in a plain `cargo test`; `make test` runs them under
//! scripts/with-postgres.sh with `--include-ignored`, and without
//! NUBO_TEST_POSTGRES they fail rather than pass unseen.

mod common;

use std::time::Duration;

use common::{start_on, Env, Storage};
use futures::StreamExt;
use nubo_protocol::*;
use nubo_server::{AgreementSource, RunningServer};
use reqwest::{Method as M, StatusCode};
use serde_json::json;

fn json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

/// A second instance on the first one's database and bucket.
async fn second_instance(env: &Env) -> RunningServer {
    let mut cfg = env.config.clone();
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    nubo_server::start(cfg).await.unwrap()
}

fn url(server: &RunningServer, path: &str) -> String {
    format!("{}{path}", server.url())
}

#[tokio::test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
async fn a_commit_stays_conditional_across_instances() {
    let env = start_on(AgreementSource::None, Storage::PostgresS3).await;
    let two = second_instance(&env).await;
    // A token issued by one instance works on the other.
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let first: Node = env.new_file(&t, root, "doc.txt", b"first", None).await;

    // Eight writers, half on each instance, all editing revision 1 at once:
    // one wins, the others are told of the conflict; no edit is lost unseen.
    let contents: Vec<Vec<u8>> = (0..8).map(|i| format!("edit {i}").into_bytes()).collect();
    let (one_url, two_url) = (env.server.url(), two.url());
    let attempts = contents.iter().enumerate().map(|(i, c)| {
        let service = if i % 2 == 0 { &one_url } else { &two_url };
        env.put_file_at(service, &t, root, "doc.txt", c, Some((first.id, first.rev)))
    });
    let answers = futures::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for (i, r) in answers.into_iter().enumerate() {
        match r.status() {
            StatusCode::OK => winners.push(i),
            StatusCode::CONFLICT => {}
            other => panic!("writer {i}: {other} {}", r.text().await.unwrap()),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    let now: Node = env
        .ok(&t, M::GET, &format!("/v1/nodes/{}", first.id), None)
        .await;
    assert_eq!(now.rev, first.rev + 1);
    assert_eq!(
        now.hash,
        blake3::hash(&contents[winners[0]]).to_hex().to_string()
    );
    // The first content is kept as a version, on either instance.
    let versions: VersionList = env
        .http
        .get(url(&two, &format!("/v1/nodes/{}/versions", first.id)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions.versions.len(), 1);
    assert_eq!(
        versions.versions[0].hash,
        blake3::hash(b"first").to_hex().to_string()
    );
    two.shutdown().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
async fn a_change_on_one_instance_wakes_clients_of_the_other() {
    let env = start_on(AgreementSource::None, Storage::PostgresS3).await;
    let two = second_instance(&env).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let events = env
        .http
        .get(url(&two, "/v1/events"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut body = events.bytes_stream();
    let mut seen = String::new();
    // Reads the stream until `want` appears in it, for at most 20 s.
    let mut wait_for = async |want: String| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !seen.contains(&want) {
            let chunk = tokio::time::timeout_at(deadline, body.next())
                .await
                .unwrap_or_else(|_| panic!("no push event with {want} within 20 s; got {seen:?}"))
                .expect("the event stream ended")
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let cursor0 = env
        .ok::<ChangesResponse>(&t, M::GET, "/v1/changes?cursor=0", None)
        .await
        .cursor;
    wait_for(format!("\"cursor\":{cursor0}")).await;
    let node: Node = env.new_file(&t, root, "new.txt", b"hello", None).await;
    wait_for(format!("\"cursor\":{}", node.seq)).await;
    // A graceful shutdown waits for open streams.
    drop(body);
    two.shutdown().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
async fn background_jobs_run_once_however_many_instances() {
    let env = start_on(AgreementSource::None, Storage::PostgresS3).await;
    let two = second_instance(&env).await;
    let hour = Duration::from_secs(3600);
    // The test takes the turns itself (no timer runs in the tests).
    let a = env.server.run_jobs_if_due(hour).await.unwrap();
    let b = two.run_jobs_if_due(hour).await.unwrap();
    assert!(a.is_some(), "the first instance to ask runs the jobs");
    assert_eq!(b, None, "the other does not run them again within the hour");
    env.advance(1800);
    assert_eq!(two.run_jobs_if_due(hour).await.unwrap(), None);
    env.advance(1800);
    assert!(
        two.run_jobs_if_due(hour).await.unwrap().is_some(),
        "an hour later, its turn"
    );
    assert_eq!(env.server.run_jobs_if_due(hour).await.unwrap(), None);
    two.shutdown().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
async fn a_data_folder_service_moves_to_postgres_and_s3_without_losing_anything() {
    let env = start_on(AgreementSource::None, Storage::DataFolder).await;
    let t = env.login("alice").await.access_token;
    let root = env.root(&t).await;
    let docs: Node = env
        .ok(
            &t,
            M::POST,
            "/v1/nodes/mkdir",
            Some(json!({"parent": root, "name": "docs"})),
        )
        .await;
    let a1: Node = env.new_file(&t, docs.id, "a.txt", b"a one", None).await;
    let a2: Node = env
        .new_file(&t, docs.id, "a.txt", b"a two", Some((a1.id, a1.rev)))
        .await;
    let gone: Node = env
        .new_file(&t, root, "gone.txt", b"deleted later", None)
        .await;
    let _: Node = env
        .ok(
            &t,
            M::POST,
            &format!("/v1/nodes/{}/delete", gone.id),
            Some(json!({})),
        )
        .await;
    // A folder moved into one made after it: its parent's id is larger.
    let later: Node = env
        .ok(
            &t,
            M::POST,
            "/v1/nodes/mkdir",
            Some(json!({"parent": root, "name": "later"})),
        )
        .await;
    let _: Node = env
        .ok(
            &t,
            M::POST,
            &format!("/v1/nodes/{}/move", docs.id),
            Some(json!({"parent": later.id, "name": "docs"})),
        )
        .await;
    let before: ChangesResponse = env.ok(&t, M::GET, "/v1/changes?cursor=0", None).await;
    let trash_before: TrashList = env.ok(&t, M::GET, "/v1/trash", None).await;
    let account_before: AccountInfo = env.ok(&t, M::GET, "/v1/account", None).await;
    let data = env.data_dir().to_path_buf();
    let mut cfg = env.config.clone();
    env.server.shutdown().await;

    let database = common::backends::fresh_database().await;
    let s3 = common::backends::S3Server::start(&data.join("s3-target")).await;
    s3.configure(&mut cfg);
    let ca = common::backends::postgres_ca();
    let report = nubo_server::migrate::run(
        &database,
        ca.as_deref(),
        Some(&data),
        cfg.chunks.as_deref(),
        &cfg.s3,
    )
    .await
    .unwrap();
    assert!(report.chunk_objects >= 3, "{report}");
    cfg.database = Some(database.clone());
    cfg.database_ca = ca.clone();
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let moved = nubo_server::start(cfg).await.unwrap();
    let get = |path: &str| env.http.get(url(&moved, path)).bearer_auth(&t).send();
    // The same token, the same feed, trash, versions, usage and bytes.
    let after: ChangesResponse = get("/v1/changes?cursor=0")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json(&after.nodes), json(&before.nodes));
    assert_eq!(after.cursor, before.cursor);
    let trash_after: TrashList = get("/v1/trash").await.unwrap().json().await.unwrap();
    assert_eq!(json(&trash_after.items), json(&trash_before.items));
    let account_after: AccountInfo = get("/v1/account").await.unwrap().json().await.unwrap();
    assert_eq!(account_after.used_bytes, account_before.used_bytes);
    let versions: VersionList = get(&format!("/v1/nodes/{}/versions", a2.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions.versions.len(), 1);
    let bytes = get(&format!("/v1/chunks/{}", a2.hash))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"a two");
    // New rows get new ids: the sequences went on past the copied ones.
    let r = env
        .http
        .post(url(&moved, "/v1/nodes/mkdir"))
        .bearer_auth(&t)
        .json(&json!({"parent": root, "name": "after the move"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let fresh: Node = r.json().await.unwrap();
    assert!(before.nodes.iter().all(|n| n.id != fresh.id));
    // Copying into a database that already holds accounts is refused.
    let again = nubo_server::migrate::run(
        &database,
        ca.as_deref(),
        Some(&data),
        None,
        &Default::default(),
    )
    .await;
    let refused = format!("{:#}", again.unwrap_err());
    assert!(refused.contains("already holds accounts"), "{refused}");
    moved.shutdown().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: make test runs it under scripts/with-postgres.sh"]
async fn the_database_is_reached_over_tls_verified_against_the_ca_given() {
    use nubo_server::store::db::Backend;
    use nubo_server::store::PostgresStore;
    let url = common::backends::fresh_database().await;
    let ca = common::backends::postgres_ca()
        .expect("scripts/with-postgres.sh gives the server a certificate (NUBO_TEST_POSTGRES_CA)");
    tokio::task::spawn_blocking(move || {
        let store = PostgresStore::connect(&url, Some(&ca), 50).unwrap();
        let encrypted = store
            .backend()
            .read(&mut |db| {
                let r = db.query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )?;
                Ok(r.flag(0)?)
            })
            .unwrap();
        assert!(encrypted, "the connection to PostgreSQL is encrypted");
        // Trusting only the public roots, the test server's certificate is
        // refused: the connection fails rather than going on unverified.
        let public = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
        let refused = PostgresStore::connect(&url, Some(public), 50)
            .err()
            .expect("a certificate from an unknown issuer is refused");
        let message = format!("{refused:#}");
        assert!(
            message.contains("cannot connect to PostgreSQL"),
            "{message}"
        );
    })
    .await
    .unwrap();
}
