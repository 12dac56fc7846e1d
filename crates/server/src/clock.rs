/// The service's notion of now, in Unix seconds. Injectable so that tests can
/// move time (token expiry, retention, the account lifecycle).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;
}

/// `YYYY-MM-DD` (UTC) of Unix seconds, for names and messages.
pub fn date(secs: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix seconds, for messages.
pub fn date_time(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{} {:02}:{:02}:{:02}",
        date(secs),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// The system clock moved by a number of seconds read from a file at every
/// call (missing or unreadable: 0). Only for tests that move a real
/// service process through months (`nubo serve --clock-offset-file`).
pub struct FileOffsetClock(pub std::path::PathBuf);

impl Clock for FileOffsetClock {
    fn now(&self) -> i64 {
        let offset = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        SystemClock.now() + offset
    }
}
