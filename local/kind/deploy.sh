#!/usr/bin/env bash
# Builds the images, loads them into the kind cluster, applies the kind
# overlay, waits until everything is ready, prints the URL and smoke-tests it.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
kubectl config use-context kind-task-app >/dev/null

IMAGE_PREFIX=kind.local/task-app IMAGE_TAG=dev bash local/images.sh
say "loading the images into kind"
archive=$(mktemp -d)
trap 'rm -rf "$archive"' EXIT
for image in $(target/debug/stack images); do
  ref=kind.local/task-app/$image:dev
  buildah --storage-driver vfs push --quiet "$ref" "docker-archive:$archive/$image.tar:$ref"
  kind load image-archive "$archive/$image.tar" --name task-app
done

say "applying knative/overlays/kind"
# A finished migrations Job cannot be changed: run it anew.
kubectl delete job migrate-schema -n task-app --ignore-not-found
kubectl apply -k knative/overlays/kind
kubectl wait kafka/task-kafka -n task-app --for=condition=Ready --timeout=600s
kubectl wait statefulset/postgres -n task-app --for=jsonpath='{.status.readyReplicas}'=1 --timeout=300s
kubectl wait job/migrate-schema -n task-app --for=condition=Complete --timeout=300s
kubectl wait ksvc --all -n task-app --for=condition=Ready --timeout=600s
kubectl wait broker/task-events trigger/task-events-to-audit -n task-app --for=condition=Ready --timeout=300s

url=$(kubectl get ksvc edge-router -n task-app -o jsonpath='{.status.url}')
say "the app is at $url:8088 (through Kourier on 127.0.0.1:8088)"
bash local/kind/smoke.sh "${url#http://}"
