//! `LISTEN pier_due`: due-work notices from every node (routing, retries, unpause), so an idle
//! node wakes when another node's request makes work due. The listener reconnects by itself;
//! a lost notice only delays work until the next periodic scan.

use futures::StreamExt;
use pier_core::Millis;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

pub(crate) fn listen(config: tokio_postgres::Config) -> mpsc::UnboundedReceiver<(String, String, Millis)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            if tx.is_closed() {
                return;
            }
            match config.connect(NoTls).await {
                Ok((client, mut conn)) => {
                    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        let mut stream = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
                        while let Some(m) = stream.next().await {
                            match m {
                                Ok(AsyncMessage::Notification(n)) => {
                                    let _ = msg_tx.send(n.payload().to_string());
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                        }
                    });
                    if client.batch_execute("LISTEN pier_due").await.is_ok() {
                        while let Some(payload) = msg_rx.recv().await {
                            let mut parts = payload.splitn(3, '|');
                            if let (Some(p), Some(d), Some(at)) = (parts.next(), parts.next(), parts.next()) {
                                if let Ok(at) = at.parse::<i64>() {
                                    if tx.send((p.to_string(), d.to_string(), at)).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    driver.abort();
                    tracing::warn!("the notification connection closed; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot open the notification connection; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    rx
}
