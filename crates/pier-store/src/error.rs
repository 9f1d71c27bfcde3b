/// What can go wrong in storage. The server maps these to API errors; `Unavailable` and
/// `Internal` details are logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidReference(String),
    #[error("{0}")]
    InvalidQuery(String),
    /// The database cannot be reached or refused to commit; retrying later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}
