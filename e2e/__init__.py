"""End-to-end harnesses: a real cluster made with kind (``e2e/kind``) and the
local cluster harness (``e2e/local``): an emulated API server and a small
kubelet that runs each Pod's command as a local process."""
