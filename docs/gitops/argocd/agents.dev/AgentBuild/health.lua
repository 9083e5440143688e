-- Argo CD health check for agents.dev/v1alpha1 AgentBuild (kubectl-agents).
-- The status follows kstatus: status.observedGeneration, a Ready condition, and Reconciling /
-- Stalled (True only while in progress / failed). Phases and reasons: docs/api/agentbuild.md.
-- Uses only Lua's base and table libraries (what Argo CD opens for argocd-cm health checks).
local hs = {}
local status = obj.status
if status == nil or status.phase == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator"
  return hs
end
if obj.metadata.generation ~= nil and status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator: generation " .. tostring(obj.metadata.generation) ..
    " is not observed yet (the status describes " .. tostring(status.observedGeneration) .. ")"
  return hs
end
local reason = ""
hs.message = status.phase
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      reason = c.reason or ""
      hs.message = status.phase .. ": " .. reason .. ": " .. (c.message or "")
    end
  end
end
local phase = status.phase
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Pending" or phase == "Running" then
  -- The run of the current spec has not started (or Tekton is not installed), or it builds.
  hs.status = "Progressing"
elseif phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Unknown"
  hs.message = "unknown phase " .. tostring(phase)
end
return hs
