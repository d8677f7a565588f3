// Validates every object each overlay renders (`kubectl kustomize`), strictly:
// - Kubernetes kinds against the Kubernetes JSON schemas, rejecting unknown
//   fields (kubernetes-validate --strict, from PyPI);
// - Knative and Strimzi kinds against their CRD schemas (kubernetes-models),
//   and each Knative Service's pod template strictly as a Kubernetes PodSpec;
// - KafkaSink, for which no published schema package exists, against the
//   fields its documentation lists (below).
// An object of any other kind fails: nothing is deployed unchecked.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

const knative = resolve(import.meta.dirname, '..');
const overlays = ['kind', 'production'];

const crdModels = {
  'serving.knative.dev/v1/Service': '@kubernetes-models/knative/serving.knative.dev/v1/Service',
  'eventing.knative.dev/v1/Broker': '@kubernetes-models/knative/eventing.knative.dev/v1/Broker',
  'eventing.knative.dev/v1/Trigger': '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger',
  'sources.knative.dev/v1/SinkBinding': '@kubernetes-models/knative/sources.knative.dev/v1/SinkBinding',
  'sources.knative.dev/v1/PingSource': '@kubernetes-models/knative/sources.knative.dev/v1/PingSource',
  'kafka.strimzi.io/v1beta2/Kafka': '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2/Kafka',
  'kafka.strimzi.io/v1beta2/KafkaNodePool': '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2/KafkaNodePool',
};

const coreKinds = new Set([
  'v1/Namespace', 'v1/ConfigMap', 'v1/Secret', 'v1/Service', 'apps/v1/Deployment', 'apps/v1/StatefulSet', 'batch/v1/Job',
  'networking.k8s.io/v1/NetworkPolicy',
]);

/** KafkaSink (eventing.knative.dev/v1alpha1), from the Knative Kafka docs. */
function checkKafkaSink(object) {
  const errors = [];
  const allowed = {
    top: ['apiVersion', 'kind', 'metadata', 'spec'],
    spec: ['topic', 'bootstrapServers', 'contentMode', 'numPartitions', 'replicationFactor', 'auth'],
  };
  for (const key of Object.keys(object)) if (!allowed.top.includes(key)) errors.push(`unknown field ${key}`);
  const spec = object.spec ?? {};
  for (const key of Object.keys(spec)) if (!allowed.spec.includes(key)) errors.push(`unknown field spec.${key}`);
  if (typeof spec.topic !== 'string' || !spec.topic) errors.push('spec.topic must be a non-empty string');
  if (!Array.isArray(spec.bootstrapServers) || spec.bootstrapServers.some((s) => typeof s !== 'string'))
    errors.push('spec.bootstrapServers must be a list of strings');
  if (spec.contentMode !== undefined && !['binary', 'structured'].includes(spec.contentMode))
    errors.push('spec.contentMode must be binary or structured');
  return errors;
}

/** A Knative Service's pod template as a Deployment, for the strict PodSpec schema. */
function podSpecAsDeployment(service) {
  const spec = structuredClone(service.spec.template.spec);
  // Knative's own fields, checked by the Knative schema instead.
  for (const field of ['containerConcurrency', 'timeoutSeconds', 'responseStartTimeoutSeconds', 'idleTimeoutSeconds'])
    delete spec[field];
  const labels = { 'knative-service': service.metadata.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${service.metadata.name}-pod-template`, namespace: service.metadata.namespace },
    spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec } },
  };
}

let failures = 0;
const fail = (where, message) => {
  failures++;
  console.error(`FAIL ${where}: ${message}`);
};

for (const overlay of overlays) {
  const rendered = execFileSync('kubectl', ['kustomize', join(knative, 'overlays', overlay)], { encoding: 'utf8' });
  const objects = parseAllDocuments(rendered).map((d) => d.toJSON()).filter(Boolean);
  const core = [];
  let checked = 0;
  for (const object of objects) {
    const key = `${object.apiVersion}/${object.kind}`;
    const where = `${overlay}: ${object.kind} ${object.metadata?.name}`;
    if (coreKinds.has(key)) {
      core.push(object);
    } else if (crdModels[key]) {
      const module = await import(crdModels[key]);
      const Model = module[object.kind];
      try {
        // `status` is the server's; the generated schemas require it anyway.
        new Model({ status: {}, ...object }).validate();
      } catch (error) {
        fail(where, error.message);
      }
      if (key === 'serving.knative.dev/v1/Service') core.push(podSpecAsDeployment(object));
    } else if (key === 'eventing.knative.dev/v1alpha1/KafkaSink') {
      for (const error of checkKafkaSink(object)) fail(where, error);
    } else {
      fail(where, `no schema for ${key}: add one before deploying it`);
      continue;
    }
    checked++;
  }
  const dir = mkdtempSync(join(tmpdir(), 'manifest-check-'));
  const file = join(dir, `${overlay}.yaml`);
  writeFileSync(file, core.map((o) => stringify(o)).join('---\n'));
  try {
    execFileSync('kubernetes-validate', ['--strict', '--quiet', file], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    fail(`${overlay}: Kubernetes schema`, `${error.stdout}${error.stderr}`.trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${overlay}: ${checked} objects validated (${core.length} against the strict Kubernetes schemas)`);
}

if (failures > 0) {
  console.error(`${failures} problem(s)`);
  process.exit(1);
}
