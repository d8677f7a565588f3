#!/usr/bin/env bash
# Builds the images, loads them into the kind cluster, starts the OpenID
# Provider (Keycloak) and reads the key set it generated, applies the kind
# overlay with that key set, waits until everything is ready, prints the URL
# and smoke-tests it (signed in as the demo users).
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
kubectl config use-context kind-task-app >/dev/null

IMAGE_PREFIX=kind.local/task-app IMAGE_TAG=dev bash local/images.sh
say "loading the images into kind"
work=$(mktemp -d)
forward=
cleanup() {
  if [ -n "$forward" ]; then kill "$forward" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/images"
for image in $(target/debug/stack images); do
  ref=kind.local/task-app/$image:dev
  buildah --storage-driver vfs push --quiet "$ref" "docker-archive:$work/images/$image.tar:$ref"
  kind load image-archive "$work/images/$image.tar" --name task-app
done

# Sign-in comes first: the functions that check tokens start with the
# provider's key set (a cold start asks the provider nothing), and Keycloak
# makes its key when it first starts. So: Keycloak, then its key set, then
# the overlay with that key set in the ConfigMap task-app-auth (whose name,
# a hash of its content, changes with it: new keys, new revisions).
say "starting the OpenID Provider (Keycloak, knative/overlays/kind/oidc)"
kubectl create namespace task-app --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -k knative/overlays/kind/oidc
kubectl rollout status deployment/oidc -n task-app --timeout=600s

say "reading the key set of realm task-app"
# Through a port-forward (no NetworkPolicy applies to it): the provider
# admits only the edge router and the functions.
kubectl port-forward -n task-app service/oidc :80 >"$work/forward.log" 2>&1 &
forward=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/forward.log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/forward.log" >&2; echo "error: no port-forward to Keycloak" >&2; exit 1; }
curl -fsS --retry 5 --retry-connrefused \
  "http://127.0.0.1:$port/oidc/realms/task-app/protocol/openid-connect/certs" >"$work/jwks.json"
kill "$forward" 2>/dev/null || true
wait "$forward" 2>/dev/null || true
forward=
python3 - "$work/jwks.json" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1])).get("keys", [])
signing = [k for k in keys if k.get("use", "sig") == "sig" and k.get("alg") in ("ES256", "RS256") and k.get("kid")]
if not signing:
    sys.exit(f"error: Keycloak's key set has no ES256 or RS256 signing key: {keys}")
print("signing keys: " + ", ".join(f"{k['alg']} {k['kid']}" for k in signing))
PY

say "applying knative/overlays/kind with that key set"
# A kustomization of our own, beside the key set, on top of the kind overlay
# (kustomize wants a relative path to it).
cat >"$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$work" knative/overlays/kind)
configMapGenerator:
  - name: task-app-auth
    namespace: task-app
    behavior: merge
    files:
      - jwks.json
YAML
kubectl kustomize "$work" >"$work/rendered.yaml"
issuer=$(sed -n 's/^  issuer: //p' "$work/rendered.yaml")
# A finished migrations Job cannot be changed: run it anew.
kubectl delete job migrate-schema -n task-app --ignore-not-found
kubectl apply -f "$work/rendered.yaml"
kubectl wait kafka/task-kafka -n task-app --for=condition=Ready --timeout=600s
kubectl wait statefulset/postgres -n task-app --for=jsonpath='{.status.readyReplicas}'=1 --timeout=300s
kubectl wait job/migrate-schema -n task-app --for=condition=Complete --timeout=300s
kubectl wait ksvc --all -n task-app --for=condition=Ready --timeout=600s
kubectl wait broker/task-events trigger/task-events-to-audit -n task-app --for=condition=Ready --timeout=300s

url=$(kubectl get ksvc edge-router -n task-app -o jsonpath='{.status.url}')
# The functions accept tokens of exactly this issuer: the URL the browser
# reaches Keycloak at, which the overlay writes down.
if [ "$issuer" != "$url:8088/oidc/realms/task-app" ]; then
  echo "error: the functions trust the issuer $issuer, but the browser reaches Keycloak at $url:8088/oidc/realms/task-app:" >&2
  echo "       change issuer in knative/overlays/kind/kustomization.yaml and the client's URLs in oidc/task-app-realm.json" >&2
  exit 1
fi
say "the app is at $url:8088 (through Kourier on 127.0.0.1:8088)"
say "sign in as alice, bob or carol (admin); their passwords (demo only):"
echo "    kubectl -n task-app get secret oidc-demo-accounts -o jsonpath='{.data.alice}' | base64 -d"
bash local/kind/smoke.sh "${url#http://}"
