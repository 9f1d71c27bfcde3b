//! What both batchers (ingest, attempts) share: taking the next batch off their channel.

use tokio::sync::mpsc::UnboundedReceiver;

/// The first item of the next batch: the one the last batch left over, or the next to arrive
/// (`None` once every sender is gone).
pub(crate) async fn next_first<T>(carried: &mut Option<T>, rx: &mut UnboundedReceiver<T>) -> Option<T> {
    match carried.take() {
        Some(p) => Some(p),
        None => rx.recv().await,
    }
}

/// Fill `batch` with `first` and what already waits, up to `max` items that `admits` takes.
/// `admits` sees every item in order, `first` included (which goes in whatever it answers);
/// the first item it refuses is returned, to start the next batch.
pub(crate) fn gather<T>(
    first: T,
    rx: &mut UnboundedReceiver<T>,
    batch: &mut Vec<T>,
    max: usize,
    mut admits: impl FnMut(&T) -> bool,
) -> Option<T> {
    admits(&first);
    batch.push(first);
    while batch.len() < max {
        let Ok(p) = rx.try_recv() else { return None };
        if !admits(&p) {
            return Some(p);
        }
        batch.push(p);
    }
    None
}
