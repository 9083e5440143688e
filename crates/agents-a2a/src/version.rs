//! The protocol versions and the JSON-RPC method names of each.

/// An A2A protocol version (Major.Minor, as the card and the `A2A-Version` header name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V0_3,
    V1_0,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_3 => "0.3",
            Version::V1_0 => "1.0",
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a JSON-RPC call asks for, whatever the version names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Send,
    Stream,
    GetTask,
    CancelTask,
}

const METHODS: [(Operation, &str, &str); 4] = [
    (Operation::Send, "SendMessage", "message/send"),
    (Operation::Stream, "SendStreamingMessage", "message/stream"),
    (Operation::GetTask, "GetTask", "tasks/get"),
    (Operation::CancelTask, "CancelTask", "tasks/cancel"),
];

impl Operation {
    /// The method name `version` gives this operation.
    pub fn method(self, version: Version) -> &'static str {
        let (_, current, legacy) = METHODS.iter().find(|(op, ..)| *op == self).expect("every operation is listed");
        match version {
            Version::V1_0 => current,
            Version::V0_3 => legacy,
        }
    }

    /// The operation and version a method name belongs to.
    pub fn from_method(method: &str) -> Option<(Operation, Version)> {
        METHODS.iter().find_map(|(op, current, legacy)| {
            if method == *current {
                Some((*op, Version::V1_0))
            } else if method == *legacy {
                Some((*op, Version::V0_3))
            } else {
                None
            }
        })
    }

    /// A label for metrics and logs: the operation's 1.0 name.
    pub fn name(self) -> &'static str {
        self.method(Version::V1_0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_name_maps_to_its_operation_and_version() {
        assert_eq!(Operation::from_method("SendMessage"), Some((Operation::Send, Version::V1_0)));
        assert_eq!(Operation::from_method("message/stream"), Some((Operation::Stream, Version::V0_3)));
        assert_eq!(Operation::from_method("tasks/get"), Some((Operation::GetTask, Version::V0_3)));
        assert_eq!(Operation::from_method("sendMessage"), None);
        for op in [Operation::Send, Operation::Stream, Operation::GetTask, Operation::CancelTask] {
            for version in [Version::V0_3, Version::V1_0] {
                assert_eq!(Operation::from_method(op.method(version)), Some((op, version)));
            }
        }
    }
}
