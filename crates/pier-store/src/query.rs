//! The list query model shared by every backend: conditions on known columns, an order, a
//! limit and a cursor. Column names are the same in every backend's schema.

use pier_core::cursor::{Cursor, Direction, SortValue};

/// Tables that can be listed or counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Sources,
    Destinations,
    Connections,
    Requests,
    Events,
    IgnoredEvents,
    Attempts,
    Transformations,
    TransformationExecutions,
    Bookmarks,
    BatchOperations,
}

/// A filterable or sortable column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Id,
    Name,
    Description,
    Url,
    CliPath,
    SourceId,
    DestinationId,
    ConnectionId,
    RequestId,
    Status,
    Attempts,
    ResponseStatus,
    ErrorCode,
    CliId,
    LastAttemptAt,
    NextAttemptAt,
    SuccessfulAt,
    Verified,
    RejectionCause,
    EventsCount,
    IgnoredCount,
    IngestedAt,
    BodySize,
    Cause,
    EventId,
    TransformationId,
    LogLevel,
    Label,
    LastUsedAt,
    CancelledAt,
    CompletedAt,
    Kind,
    /// Not a column: the request's body, headers and path together, for `Contains` (search).
    Search,
    DisabledAt,
    PausedAt,
    CreatedAt,
    UpdatedAt,
}

impl Col {
    /// The column's name in every backend's schema.
    pub fn as_str(self) -> &'static str {
        match self {
            Col::Id => "id",
            Col::Name => "name",
            Col::Description => "description",
            Col::Url => "url",
            Col::CliPath => "cli_path",
            Col::SourceId => "source_id",
            Col::DestinationId => "destination_id",
            Col::ConnectionId => "connection_id",
            Col::RequestId => "request_id",
            Col::Status => "status",
            Col::Attempts => "attempts",
            Col::ResponseStatus => "response_status",
            Col::ErrorCode => "error_code",
            Col::CliId => "cli_id",
            Col::LastAttemptAt => "last_attempt_at",
            Col::NextAttemptAt => "next_attempt_at",
            Col::SuccessfulAt => "successful_at",
            Col::Verified => "verified",
            Col::RejectionCause => "rejection_cause",
            Col::EventsCount => "events_count",
            Col::IgnoredCount => "ignored_count",
            Col::IngestedAt => "ingested_at",
            Col::BodySize => "body_size",
            Col::Cause => "cause",
            Col::EventId => "event_id",
            Col::TransformationId => "transformation_id",
            Col::LogLevel => "log_level",
            Col::Label => "label",
            Col::LastUsedAt => "last_used_at",
            Col::CancelledAt => "cancelled_at",
            Col::CompletedAt => "completed_at",
            Col::Kind => "kind",
            Col::Search => "search",
            Col::DisabledAt => "disabled_at",
            Col::PausedAt => "paused_at",
            Col::CreatedAt => "created_at",
            Col::UpdatedAt => "updated_at",
        }
    }
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Sources => "sources",
            Table::Destinations => "destinations",
            Table::Connections => "connections",
            Table::Requests => "requests",
            Table::Events => "events",
            Table::IgnoredEvents => "ignored_events",
            Table::Attempts => "attempts",
            Table::Transformations => "transformations",
            Table::TransformationExecutions => "transformation_executions",
            Table::Bookmarks => "bookmarks",
            Table::BatchOperations => "batch_operations",
        }
    }

    /// Whether the table has the column (queries on others are refused).
    pub fn has(self, col: Col) -> bool {
        use Col::*;
        match col {
            Id | CreatedAt | UpdatedAt => true,
            Name => matches!(
                self,
                Table::Sources | Table::Destinations | Table::Connections | Table::Transformations | Table::Bookmarks
            ),
            Description | DisabledAt => matches!(self, Table::Sources | Table::Destinations | Table::Connections),
            Url | CliPath => self == Table::Destinations,
            SourceId => matches!(self, Table::Connections | Table::Requests | Table::Events),
            DestinationId => matches!(self, Table::Connections | Table::Events),
            PausedAt => self == Table::Connections,
            ConnectionId | RequestId => matches!(
                self,
                Table::Events | Table::IgnoredEvents | Table::TransformationExecutions | Table::Bookmarks
            ),
            Label | LastUsedAt => self == Table::Bookmarks,
            CancelledAt | CompletedAt | Kind => self == Table::BatchOperations,
            Status | Attempts | ResponseStatus | ErrorCode | CliId | LastAttemptAt | NextAttemptAt | SuccessfulAt => {
                self == Table::Events
            }
            Verified | RejectionCause | EventsCount | IgnoredCount | IngestedAt | BodySize => self == Table::Requests,
            Cause => self == Table::IgnoredEvents,
            EventId => self == Table::Attempts,
            TransformationId | LogLevel => self == Table::TransformationExecutions,
            Search => matches!(self, Table::Requests | Table::Events),
        }
    }
}

/// A value compared with a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Text(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
    Ne,
}

impl Cmp {
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
            Cmp::Ne => "<>",
        }
    }
}

/// One condition; a query's conditions all hold (AND).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Eq(Col, Val),
    In(Col, Vec<Val>),
    Cmp(Col, Cmp, Val),
    /// `true`: the column is NULL; `false`: it is not.
    IsNull(Col, bool),
    /// Case-insensitive substring match on a text column.
    Contains(Col, String),
}

impl Cond {
    pub fn col(&self) -> Col {
        match self {
            Cond::Eq(c, _) | Cond::In(c, _) | Cond::Cmp(c, _, _) | Cond::IsNull(c, _) | Cond::Contains(c, _) => *c,
        }
    }
}

/// A list request: conditions, order (`order_by` then `id` as tiebreak), page size, cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub conds: Vec<Cond>,
    pub order_by: Col,
    pub desc: bool,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery { conds: Vec::new(), order_by: Col::CreatedAt, desc: true, limit: 100, cursor: None }
    }
}

impl ListQuery {
    pub fn with(mut self, cond: Cond) -> Self {
        self.conds.push(cond);
        self
    }

    /// Refuse columns the table does not have, and orders on unsortable columns.
    pub fn check(&self, table: Table) -> Result<(), crate::StoreError> {
        if !sortable(self.order_by) {
            return Err(crate::StoreError::InvalidQuery(format!("cannot order by {}", self.order_by.as_str())));
        }
        for c in self.conds.iter().map(Cond::col).chain([self.order_by]) {
            if !table.has(c) {
                return Err(crate::StoreError::InvalidQuery(format!(
                    "{} cannot be queried by {}",
                    table.as_str(),
                    c.as_str()
                )));
            }
        }
        Ok(())
    }

    /// Whether this page is read backwards (a `prev` cursor): the backend sorts the other way,
    /// then [`Page::from_rows`] restores the order.
    pub fn reversed(&self) -> bool {
        matches!(self.cursor, Some(Cursor { direction: Direction::Prev, .. }))
    }
}

/// Columns a list may be ordered by: integer columns, NULL read as -1 (backends sort on
/// `COALESCE(col, -1)` so cursors compare the same way).
pub fn sortable(col: Col) -> bool {
    matches!(
        col,
        Col::CreatedAt
            | Col::UpdatedAt
            | Col::IngestedAt
            | Col::LastAttemptAt
            | Col::NextAttemptAt
            | Col::SuccessfulAt
            | Col::LastUsedAt
    )
}

/// A row that can be listed: its id and its value in a sortable column.
pub trait Listed {
    fn list_id(&self) -> &str;
    /// The row's value in `col` (one of [`sortable`]), NULL as -1.
    fn sort_key(&self, col: Col) -> i64;
}

macro_rules! listed {
    ($t:ty, |$s:ident, $c:ident| $body:expr) => {
        impl Listed for $t {
            fn list_id(&self) -> &str {
                &self.id
            }
            fn sort_key(&self, $c: Col) -> i64 {
                let $s = self;
                $body
            }
        }
    };
}

listed!(pier_core::Source, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::Destination, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::Connection, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::IgnoredEvent, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::Attempt, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::Transformation, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::TransformationExecution, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });
listed!(pier_core::Bookmark, |s, c| match c {
    Col::UpdatedAt => s.updated_at,
    Col::LastUsedAt => s.last_used_at.unwrap_or(-1),
    _ => s.created_at,
});
listed!(pier_core::BatchOperation, |s, c| if c == Col::UpdatedAt { s.updated_at } else { s.created_at });

listed!(pier_core::Request, |s, c| match c {
    Col::UpdatedAt => s.updated_at,
    Col::IngestedAt => s.ingested_at,
    _ => s.created_at,
});
listed!(pier_core::Event, |s, c| match c {
    Col::UpdatedAt => s.updated_at,
    Col::LastAttemptAt => s.last_attempt_at.unwrap_or(-1),
    Col::NextAttemptAt => s.next_attempt_at.unwrap_or(-1),
    Col::SuccessfulAt => s.successful_at.unwrap_or(-1),
    _ => s.created_at,
});

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub models: Vec<T>,
    pub next: Option<Cursor>,
    pub prev: Option<Cursor>,
}

impl<T> Page<T> {
    /// Build a page from up to `limit + 1` rows read in query order (reversed for `prev`),
    /// given how to read a row's sort value and id.
    pub fn from_rows(q: &ListQuery, mut rows: Vec<T>) -> Page<T>
    where
        T: Listed,
    {
        let limit = q.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let reversed = q.reversed();
        if reversed {
            rows.reverse();
        }
        let boundary = |row: Option<&T>, direction| {
            row.map(|r| Cursor {
                direction,
                value: SortValue::Int(r.sort_key(q.order_by)),
                id: r.list_id().to_string(),
            })
        };
        // Forward: more rows → next; a cursor was given → there were rows before.
        // Backward: more rows → prev; we came from a later page → next.
        let has_next = if reversed { true } else { more };
        let has_prev = if reversed { more } else { q.cursor.is_some() };
        let next = if has_next { boundary(rows.last(), Direction::Next) } else { None };
        let prev = if has_prev { boundary(rows.first(), Direction::Prev) } else { None };
        Page { models: rows, next, prev }
    }
}
