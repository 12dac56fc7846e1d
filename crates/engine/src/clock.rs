/// The engine's only source of time: conflict copy names and log stamps.
/// Never used to compare one machine's clock with another's.
pub trait Clock: Send + Sync {
    /// Local wall-clock time.
    fn now(&self) -> time::OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc())
    }
}
