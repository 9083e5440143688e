//! One stream handed to several followers: each controller that reads a shared watch hears every
//! change. Followers come before the start, so none misses what the first list says: `start`
//! takes the fan-out by value, so once it runs no one can follow it any more.
//!
//! Each follower's channel is bounded: a follower that lags holds the stream back rather than
//! queueing without end (kube's shared streams do the same). So every follower must be polled
//! all along, even before its controller reconciles (a gate drains and drops what comes before
//! it opens): one left unpolled would stop the watch, and the cache with it.

use std::sync::Mutex;

use futures::channel::mpsc::{Receiver, Sender, channel};
use futures::stream::BoxStream;
use futures::{SinkExt, Stream, StreamExt};

/// Items a follower may lag behind before the stream waits for it: a relist of thousands of
/// objects passes in a few batches.
const BUFFER: usize = 1024;

pub struct Fanout<T> {
    source: BoxStream<'static, T>,
    followers: Mutex<Vec<Sender<T>>>,
}

impl<T: Clone + Send + 'static> Fanout<T> {
    pub fn new(source: impl Stream<Item = T> + Send + 'static) -> Self {
        Fanout { source: source.boxed(), followers: Mutex::default() }
    }

    /// Every item of the stream from its start.
    pub fn follow(&self) -> Receiver<T> {
        let (sender, items) = channel(BUFFER);
        self.followers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(sender);
        items
    }

    /// Drives the stream in a task of its own, handing each item to every follower.
    pub fn start(self) {
        let Fanout { mut source, followers } = self;
        let mut followers = followers.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        tokio::spawn(async move {
            while let Some(item) = source.next().await {
                for follower in &mut followers {
                    // A follower gone (its controller stopped) just stops hearing.
                    let _ = follower.send(item.clone()).await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lagging_follower_holds_the_stream_back_and_misses_nothing() {
        let items = BUFFER * 3;
        let fanout = Fanout::new(futures::stream::iter(0..items));
        let (mut eager, late) = (fanout.follow(), fanout.follow());
        fanout.start();
        // While the late follower reads nothing, the eager one hears at most its buffer's worth
        // more than the late one holds: the stream waits instead of queueing without end.
        let mut heard = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(std::time::Duration::from_millis(200), eager.next()).await {
            heard.push(item);
        }
        assert!(heard.len() < items, "the eager follower heard all {items} items while the other lagged");
        let (rest, late): (Vec<usize>, Vec<usize>) = futures::join!(eager.collect(), late.collect());
        heard.extend(rest);
        assert_eq!(heard, (0..items).collect::<Vec<_>>());
        assert_eq!(late, heard);
    }
}
