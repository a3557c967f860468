// Package deploy holds no code: its tests render the Kubernetes manifests beside it (kustomize base and the
// us and eu overlays) and check the container build the Dockerfile runs. It is a module of its own so that
// kustomize's dependencies never enter the service's go.mod, let alone its binary.
package deploy
