//! Lookups of single entries and of what lies under one path: what a
//! round planned over what changed reads (`focus.rs`) instead of whole
//! trees. Each is an index range, so its cost is what it returns.

use nubo_protocol::NodeId;

use super::{
    local_row, remote_row, synced_row, DbResult, FolderId, RemoteRow, StateDb, LOCAL_COLUMNS,
    REMOTE_COLUMNS, SYNCED_COLUMNS,
};
use crate::tree::{LocalEntry, RelPath, SyncedEntry};

/// Which paths of a folder's table to read.
#[derive(Debug, Clone, Copy)]
pub enum Under<'p> {
    /// The entry at this path.
    At(&'p str),
    /// Everything strictly inside this folder.
    Inside(&'p str),
    /// Every path that starts with this text (the conflict copies of a name).
    Prefixed(&'p str),
}

impl Under<'_> {
    /// The `WHERE` clause on `path` (after `folder = ?1`) and its bounds.
    fn range(self) -> (&'static str, String, String) {
        match self {
            Under::At(p) => ("path = ?2", p.to_string(), String::new()),
            Under::Inside("") => (
                "path > ?2 AND path < ?3",
                String::new(),
                char::MAX.to_string(),
            ),
            // '/' + 1 == '0': every "dir/..." sorts in ["dir/", "dir0").
            Under::Inside(dir) => (
                "path >= ?2 AND path < ?3",
                format!("{dir}/"),
                format!("{dir}0"),
            ),
            Under::Prefixed(p) => (
                "path >= ?2 AND path < ?3",
                p.to_string(),
                format!("{p}{}", char::MAX),
            ),
        }
    }
}

impl StateDb {
    pub fn local_under(
        &self,
        folder: FolderId,
        under: Under<'_>,
    ) -> DbResult<Vec<(RelPath, LocalEntry)>> {
        self.rows_under("local", LOCAL_COLUMNS, folder, under, local_row)
    }

    pub fn synced_under(
        &self,
        folder: FolderId,
        under: Under<'_>,
    ) -> DbResult<Vec<(RelPath, SyncedEntry)>> {
        self.rows_under("synced", SYNCED_COLUMNS, folder, under, synced_row)
    }

    /// The rows of a folder's `table` (local or synced) under a path.
    fn rows_under<T>(
        &self,
        table: &str,
        columns: &str,
        folder: FolderId,
        under: Under<'_>,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> DbResult<Vec<T>> {
        let (clause, lo, hi) = under.range();
        let sql = format!("SELECT {columns} FROM {table} WHERE folder = ?1 AND {clause}");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = match under {
            Under::At(_) => stmt.query_map(rusqlite::params![folder, lo], row)?,
            _ => stmt.query_map(rusqlite::params![folder, lo, hi], row)?,
        };
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Up to `limit` of a folder's local rows after `after` ("" for the
    /// first), in path order (SQLite's binary order is the trees' order):
    /// how a whole scan reads the stored tree, a page at a time.
    pub fn local_page(
        &self,
        folder: FolderId,
        after: &str,
        limit: usize,
    ) -> DbResult<Vec<(RelPath, LocalEntry)>> {
        let sql = format!(
            "SELECT {LOCAL_COLUMNS} FROM local WHERE folder = ?1 AND path > ?2 ORDER BY path LIMIT ?3"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![folder, after, limit as i64], local_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether a folder's local tree has anything inside `dir`.
    pub fn local_holds_inside(&self, folder: FolderId, dir: &str) -> DbResult<bool> {
        let (clause, lo, hi) = Under::Inside(dir).range();
        let sql = format!("SELECT EXISTS (SELECT 1 FROM local WHERE folder = ?1 AND {clause})");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        Ok(stmt.query_row(rusqlite::params![folder, lo, hi], |r| r.get(0))?)
    }

    /// Where the local tree has a file or folder with this inode.
    pub fn local_paths_of_inode(&self, folder: FolderId, inode: u64) -> DbResult<Vec<RelPath>> {
        self.paths(
            "SELECT path FROM local WHERE folder = ?1 AND inode = ?2",
            folder,
            inode as i64,
        )
    }

    /// Where the merge base has an entry with this inode.
    pub fn synced_paths_of_inode(&self, folder: FolderId, inode: u64) -> DbResult<Vec<RelPath>> {
        self.paths(
            "SELECT path FROM synced WHERE folder = ?1 AND inode = ?2",
            folder,
            inode as i64,
        )
    }

    /// Where the merge base has this node.
    pub fn synced_paths_of_node(&self, folder: FolderId, node: NodeId) -> DbResult<Vec<RelPath>> {
        self.paths(
            "SELECT path FROM synced WHERE folder = ?1 AND node = ?2",
            folder,
            node,
        )
    }

    fn paths(&self, sql: &str, folder: FolderId, key: i64) -> DbResult<Vec<RelPath>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params![folder, key], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The service's node `id`, as the feed last told of it.
    pub fn remote_node(&self, id: NodeId) -> DbResult<Option<RemoteRow>> {
        let sql = format!("SELECT {REMOTE_COLUMNS} FROM remote WHERE id = ?1");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query_map([id], remote_row)?;
        Ok(rows.next().transpose()?)
    }

    /// The children of node `parent`: all, the one named `name`, or
    /// those whose names start with `name` (`Under::Inside`, `At`,
    /// `Prefixed`; the path given to `Inside` is not looked at).
    pub fn remote_children(&self, parent: NodeId, names: Under<'_>) -> DbResult<Vec<RemoteRow>> {
        let select = format!("SELECT {REMOTE_COLUMNS} FROM remote WHERE parent = ?1");
        let conn = self.conn();
        let rows: rusqlite::Result<Vec<RemoteRow>> = match names {
            Under::Inside(_) => {
                let mut stmt = conn.prepare_cached(&select)?;
                let rows = stmt.query_map([parent], remote_row)?;
                rows.collect()
            }
            Under::At(name) => {
                let mut stmt = conn.prepare_cached(&format!("{select} AND name = ?2"))?;
                let rows = stmt.query_map(rusqlite::params![parent, name], remote_row)?;
                rows.collect()
            }
            Under::Prefixed(p) => {
                let mut stmt =
                    conn.prepare_cached(&format!("{select} AND name >= ?2 AND name < ?3"))?;
                let end = format!("{p}{}", char::MAX);
                let rows = stmt.query_map(rusqlite::params![parent, p, end], remote_row)?;
                rows.collect()
            }
        };
        Ok(rows?)
    }
}

/// A folder's local rows as a whole scan compares with them.
pub struct StoredLocal<'a> {
    pub db: &'a StateDb,
    pub folder: FolderId,
}

impl crate::scanner::Stored for StoredLocal<'_> {
    fn page(&self, after: &str, limit: usize) -> DbResult<Vec<(RelPath, LocalEntry)>> {
        self.db.local_page(self.folder, after, limit)
    }

    fn holds_inside(&self, path: &str) -> DbResult<bool> {
        self.db.local_holds_inside(self.folder, path)
    }
}
