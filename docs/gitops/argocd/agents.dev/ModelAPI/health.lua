-- Argo CD health check for agents.dev/v1alpha1 ModelAPI (kubectl-agents).
-- The status follows kstatus: status.observedGeneration, a Ready condition, and Reconciling /
-- Stalled (True only while in progress / failed). Phases and reasons: docs/servers.md.
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
if phase == "Ready" then
  -- Every desired pod is ready; RolloutInProgress: an update still rolls out (as Argo CD's
  -- Deployment check, Progressing until it is done).
  if reason == "RolloutInProgress" then
    hs.status = "Progressing"
  else
    hs.status = "Healthy"
  end
elseif phase == "Pending" or phase == "Waiting" then
  -- Pods starting, or waiting for a dependency, Secret or ConfigMap: it starts once that exists.
  hs.status = "Progressing"
elseif phase == "Degraded" then
  -- Some pods serve, fewer than desired (pods starting, or one that cannot run: the reason says
  -- which). As Argo CD's Deployment check: Progressing until the Deployment's progress deadline
  -- passes (RolloutFailed).
  if reason == "RolloutFailed" then
    hs.status = "Degraded"
  else
    hs.status = "Progressing"
  end
elseif phase == "Failed" then
  hs.status = "Degraded"
elseif phase == "Stopped" then
  -- Scaled to zero on purpose, as a suspended CronJob.
  hs.status = "Suspended"
else
  hs.status = "Unknown"
  hs.message = "unknown phase " .. tostring(phase)
end
return hs
