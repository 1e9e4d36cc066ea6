"""The Kubernetes operator: the engine's ports carried out against a cluster.

    client       the only module that imports `kubernetes`: async verbs on plain dicts, watches
    errors       KubeError and its subclasses (NotFound, Conflict, AlreadyExists, Gone)
    store        the informer cache (compact JSON, one label indexed)
    informer     list-then-watch into a store; handlers per change
    workqueue    deduplicating, rate-limited queue of keys with timers
    leader       leader election on a coordination.k8s.io Lease
    objects      pure builders of every owned object (Deployments, Services, RBAC, ConfigMap)
    apply        create-or-patch of owned objects, writing only on drift
    cluster      the Cluster port: revisions as Deployment + Service
    routerconfig the router config for a split (pure)
    routers      finding router pods (EndpointSlices) and reading their /stats
    traffic      the TrafficControl port: the router ConfigMap and its confirmation
    measure      the MetricProvider port: windows of router stats; Prometheus and webhooks
    events       the EventSink port: core/v1 Events
    infra        the objects around the revisions: router, RBAC, Services
    manual       manual requests in the `modelrollout.io/request` annotation
    timers       when a rollout wants its next look
    reconciler   one reconcile: observe, decide, act, store status with conflict retry
    outcomes     what a decision changed, counted
    telemetry    the controller's /metrics and /healthz
    wiring       building the parts from the settings
    manager      the process: caches, leader election, workers, shutdown
"""
