//! One stream handed to several followers: each controller that reads a shared watch hears every
//! change. Followers come before the start, so none misses what the first list says.

use std::sync::Mutex;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

pub struct Fanout<T> {
    /// The stream, until it is started.
    source: Mutex<Option<BoxStream<'static, T>>>,
    followers: Mutex<Vec<UnboundedSender<T>>>,
}

impl<T: Clone + Send + 'static> Fanout<T> {
    pub fn new(source: impl Stream<Item = T> + Send + 'static) -> Self {
        Fanout { source: Mutex::new(Some(source.boxed())), followers: Mutex::default() }
    }

    /// Every item of the stream from its start. Follow before the start: a follower added later
    /// would not hear of what was listed before it came.
    pub fn follow(&self) -> UnboundedReceiver<T> {
        let (sender, items) = unbounded();
        debug_assert!(self.source.lock().expect("never poisoned").is_some(), "followed after the start");
        self.followers.lock().expect("never poisoned").push(sender);
        items
    }

    /// Drives the stream in a task of its own, handing each item to every follower.
    pub fn start(&self) {
        let Some(source) = self.source.lock().expect("never poisoned").take() else { return };
        let followers = std::mem::take(&mut *self.followers.lock().expect("never poisoned"));
        tokio::spawn(source.for_each(move |item| {
            for follower in &followers {
                // A follower gone (its controller stopped) just stops hearing.
                let _ = follower.unbounded_send(item.clone());
            }
            std::future::ready(())
        }));
    }
}
