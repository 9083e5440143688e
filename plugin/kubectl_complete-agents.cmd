@echo off
rem kubectl (1.26+) completes `kubectl agents ...` by running kubectl_complete-agents from PATH
rem with the words typed after `agents`; the plugin answers in cobra's completion protocol.
kubectl-agents.exe __complete %*
