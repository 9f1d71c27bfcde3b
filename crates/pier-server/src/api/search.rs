//! JSON search on request data (`body`, `headers`, `parsed_query`, `path` filters): lists are
//! read in store pages and the rows whose request matches are kept, until a page is full or
//! [`SCAN_LIMIT`] rows were looked at (then `next` continues the scan where it stopped).

use pier_api_types::output;
use pier_core::cursor::{Cursor, Direction, SortValue};
use pier_core::filter::RuleFilter;
use pier_core::Request;
use pier_store::{ListQuery, Listed, Page};

/// At most this many rows are read for one page of a searched list.
pub const SCAN_LIMIT: usize = 5_000;
const STEP: u32 = 200;

/// Whether a request's data matches the search.
pub fn request_matches(f: &RuleFilter, r: &Request) -> bool {
    let data = output::event_data(r);
    let headers = serde_json::Value::Object(data.headers);
    f.matches(&headers, Some(&data.body), &data.parsed_query, &data.path)
}

/// A scan of a list: read `query()` from the store, then `feed` the page with which rows match,
/// until `feed` gives the finished page. It reads forward (a `prev` cursor is read as a `next`
/// one from the same row); `prev` is not offered on searched pages.
pub struct Scan<T> {
    order_by: pier_store::Col,
    limit: usize,
    cur: ListQuery,
    kept: Vec<T>,
    scanned: usize,
}

impl<T: Listed> Scan<T> {
    pub fn new(q: &ListQuery) -> Scan<T> {
        let mut cur = q.clone();
        cur.limit = STEP;
        if let Some(c) = &mut cur.cursor {
            c.direction = Direction::Next;
        }
        Scan { order_by: q.order_by, limit: q.limit as usize, cur, kept: Vec::new(), scanned: 0 }
    }

    /// The next store query; `None` when the page is already complete (a limit of 0).
    pub fn query(&self) -> Option<&ListQuery> {
        (self.limit > 0).then_some(&self.cur)
    }

    /// Take one store page and whether each row matches; `Some` is the finished page.
    pub fn feed(&mut self, page: Page<T>, keep: Vec<bool>) -> Option<Page<T>> {
        let n = page.models.len();
        self.scanned += n;
        for (i, (row, ok)) in page.models.into_iter().zip(keep).enumerate() {
            if !ok {
                continue;
            }
            self.kept.push(row);
            if self.kept.len() >= self.limit {
                let more = i + 1 < n || page.next.is_some();
                let last = self.kept.last().expect("kept a row");
                let next = more.then(|| Cursor {
                    direction: Direction::Next,
                    value: SortValue::Int(last.sort_key(self.order_by)),
                    id: last.list_id().to_string(),
                });
                return Some(Page { models: std::mem::take(&mut self.kept), next, prev: None });
            }
        }
        match page.next {
            Some(c) if self.scanned < SCAN_LIMIT => {
                self.cur.cursor = Some(c);
                None
            }
            next => Some(Page { models: std::mem::take(&mut self.kept), next, prev: None }),
        }
    }

    /// The (empty) page of a scan with nothing to read.
    pub fn finish(self) -> Page<T> {
        Page { models: self.kept, next: None, prev: None }
    }
}
