"""The operator dashboard: a web page over the ModelRollouts the caller can see, with live updates and actions.

`kubectl modelrollout dashboard` runs it with the caller's kubeconfig; the chart runs the same
server in the cluster. Charts are drawn from what the rollout's status keeps (the evidence
trail), so they survive a restart of the dashboard and of the controller.
"""
