#!/usr/bin/env bash
# Creates the kind cluster `task-app` with Knative Serving (Kourier), Knative
# Eventing, the Knative Kafka broker and Strimzi, at pinned versions, and
# waits until they are ready. Needs Docker, kind and kubectl, and internet.
set -euo pipefail
cd "$(dirname "$0")"
source versions.env
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (see knative/README.md, 'Local kind cluster')" >&2; exit 1; }
done
k=knative-v$KNATIVE_VERSION
gh=https://github.com

if ! kind get clusters | grep -qx task-app; then
  say "creating the kind cluster task-app"
  kind create cluster --name task-app --image "$KIND_NODE_IMAGE" --config cluster.yaml --wait 120s
fi
kubectl config use-context kind-task-app >/dev/null

say "Knative Serving $KNATIVE_VERSION with Kourier"
kubectl apply -f "$gh/knative/serving/releases/download/$k/serving-crds.yaml"
kubectl apply -f "$gh/knative/serving/releases/download/$k/serving-core.yaml"
kubectl apply -f "$gh/knative/net-kourier/releases/download/$k/kourier.yaml"
kubectl patch configmap/config-network -n knative-serving --type merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
kubectl patch configmap/config-domain -n knative-serving --type merge \
  -p '{"data":{"127.0.0.1.sslip.io":""}}'
# What the manifests use: an emptyDir (/tmp of the read-only edge router) and
# pod security settings.
kubectl patch configmap/config-features -n knative-serving --type merge \
  -p '{"data":{"kubernetes.podspec-emptydir":"enabled","kubernetes.podspec-securitycontext":"enabled"}}'
kubectl patch service/kourier -n kourier-system --type merge \
  -p '{"spec":{"type":"NodePort","ports":[{"name":"http2","port":80,"protocol":"TCP","targetPort":8080,"nodePort":31080}]}}'

say "Knative Eventing $KNATIVE_VERSION and the Kafka broker"
kubectl apply -f "$gh/knative/eventing/releases/download/$k/eventing-crds.yaml"
kubectl apply -f "$gh/knative/eventing/releases/download/$k/eventing-core.yaml"
kubectl apply -f "$gh/knative-extensions/eventing-kafka-broker/releases/download/$k/eventing-kafka-controller.yaml"
kubectl apply -f "$gh/knative-extensions/eventing-kafka-broker/releases/download/$k/eventing-kafka-broker.yaml"
kubectl apply -f "$gh/knative-extensions/eventing-kafka-broker/releases/download/$k/eventing-kafka-sink.yaml"

say "Strimzi $STRIMZI_VERSION (watching the task-app namespace)"
kubectl create namespace kafka --dry-run=client -o yaml | kubectl apply -f -
kubectl create namespace task-app --dry-run=client -o yaml | kubectl apply -f -
curl -fsSL "$gh/strimzi/strimzi-kafka-operator/releases/download/$STRIMZI_VERSION/strimzi-cluster-operator-$STRIMZI_VERSION.yaml" \
  | sed 's/namespace: myproject/namespace: kafka/' | kubectl apply -n kafka -f -
kubectl set env deployment/strimzi-cluster-operator -n kafka STRIMZI_NAMESPACE=task-app
kubectl create rolebinding strimzi-cluster-operator -n task-app --clusterrole=strimzi-cluster-operator-namespaced \
  --serviceaccount=kafka:strimzi-cluster-operator --dry-run=client -o yaml | kubectl apply -f -
kubectl create rolebinding strimzi-cluster-operator-watched -n task-app --clusterrole=strimzi-cluster-operator-watched \
  --serviceaccount=kafka:strimzi-cluster-operator --dry-run=client -o yaml | kubectl apply -f -
kubectl create rolebinding strimzi-cluster-operator-entity-operator-delegation -n task-app \
  --clusterrole=strimzi-entity-operator --serviceaccount=kafka:strimzi-cluster-operator --dry-run=client -o yaml | kubectl apply -f -

say "waiting for the platform"
for ns in knative-serving kourier-system knative-eventing kafka; do
  kubectl wait deployment --all -n "$ns" --for=condition=Available --timeout=600s
done
say "the cluster is ready: now \`task kind:deploy\`"
