//! Every `--json` answer: a versioned document with named fields and
//! RFC 3339 times (the service's Unix seconds are turned into those here).

use nubo_engine::restore::FileVersions;
use nubo_protocol::{Device, TrashList};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// The version of every `--json` document's shape: scripts may rely on
/// its named fields while it stays the same.
pub const VERSION: u32 = 1;

/// A `--json` answer: the version, then the document's own fields (a list
/// goes under `items`).
pub fn print(body: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut doc = json!({ "version": VERSION });
    match serde_json::to_value(body)? {
        Value::Object(fields) => doc.as_object_mut().expect("a JSON object").extend(fields),
        other => doc["items"] = other,
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `nubo devices --json`.
pub fn devices(devices: &[Device]) -> Value {
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "name": d.name,
                "os": d.os,
                "created_at": rfc3339(d.created_at),
                "last_seen": rfc3339(d.last_seen),
                "current": d.current,
            })
        })
        .collect();
    json!({ "devices": devices })
}

/// `nubo restore list --json`: the trash, newest first.
pub fn trash(list: &TrashList) -> Value {
    let items: Vec<Value> = list
        .items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "name": i.name,
                "path": i.path,
                "kind": i.kind,
                "size": i.size,
                "files": i.files,
                "deleted_at": rfc3339(i.deleted_at),
                "deleted_by": i.deleted_by,
                "device_name": i.device_name,
            })
        })
        .collect();
    json!({
        "items": items,
        "total": list.total,
        "retention_days": list.retention_days,
    })
}

/// `nubo restore list --versions PATH --json`.
pub fn versions(v: &FileVersions) -> Value {
    let versions: Vec<Value> = v
        .versions
        .iter()
        .map(|ver| {
            json!({
                "rev": ver.rev,
                "size": ver.size,
                "hash": ver.hash,
                "created_at": rfc3339(ver.created_at),
                "device_id": ver.device_id,
                "device_name": ver.device_name,
            })
        })
        .collect();
    json!({
        "path": v.path,
        "node": {
            "id": v.node.id,
            "name": v.node.name,
            "kind": v.node.kind,
            "rev": v.node.rev,
            "size": v.node.size,
            "hash": v.node.hash,
            "deleted": v.node.deleted,
            "modified": rfc3339(v.node.mtime_ms.div_euclid(1000)),
        },
        "versions": versions,
    })
}
