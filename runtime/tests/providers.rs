//! The schema lets an Agent without an image name a provider directly only if the runtime knows
//! that provider's endpoint: the two lists are one.

#[test]
fn the_schema_and_the_runtime_know_the_same_providers() {
    let runtime: Vec<&str> = agents_runtime::config::PROVIDER_ENDPOINTS.iter().map(|(p, _)| *p).collect();
    assert_eq!(runtime, agents_api::agent::RUNTIME_PROVIDERS);
}
