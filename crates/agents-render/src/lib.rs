//! Desired state: pure functions from a custom resource (and the observed state of what it depends
//! on) to the child objects the operator applies. No I/O, so the plugin can show what the
//! operator will create and every rule is unit-tested.
