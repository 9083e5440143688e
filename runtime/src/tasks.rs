//! Tasks by id, for `GetTask`: the running ones and the most recent finished ones, in bounded memory.

use agents_a2a::Task;
use indexmap::IndexMap;

pub struct Tasks {
    limit: usize,
    /// Oldest first.
    by_id: IndexMap<String, Task>,
}

impl Tasks {
    pub fn new(limit: usize) -> Self {
        Tasks { limit: limit.max(1), by_id: IndexMap::new() }
    }

    /// Stores the task's current state (a new task, or a change of one already stored).
    pub fn put(&mut self, task: Task) {
        match self.by_id.get_mut(&task.id) {
            Some(stored) => *stored = task,
            None => {
                self.by_id.insert(task.id.clone(), task);
                while self.by_id.len() > self.limit {
                    self.by_id.shift_remove_index(0);
                }
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.by_id.get(id)
    }
}

#[cfg(test)]
mod tests {
    use agents_a2a::{TaskState, TaskStatus};

    use super::*;

    fn task(id: &str, state: TaskState) -> Task {
        Task {
            id: id.into(),
            context_id: "c".into(),
            status: TaskStatus { state, message: None, timestamp: None },
            artifacts: vec![],
            history: vec![],
        }
    }

    #[test]
    fn a_task_is_updated_in_place_and_the_oldest_go_first() {
        let mut tasks = Tasks::new(2);
        tasks.put(task("a", TaskState::Working));
        tasks.put(task("b", TaskState::Working));
        tasks.put(task("a", TaskState::Completed));
        assert_eq!(tasks.get("a").unwrap().status.state, TaskState::Completed);
        tasks.put(task("c", TaskState::Working));
        assert!(tasks.get("a").is_none(), "the oldest task made way");
        assert!(tasks.get("b").is_some() && tasks.get("c").is_some());
    }
}
