// The Kubernetes manifests: every overlay rendered by `kubectl kustomize`, every object validated against
// the Kubernetes API schemas (kubernetes-models, by apiVersion and kind), and the wiring between objects
// (probes, drain, selectors, config and secret references) checked on the rendered output.
import { readdirSync } from 'node:fs';
import { parseAllDocuments, parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { runTool } from './tools.js';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };
type Model = { validate(): void };

const OVERLAYS = 'deploy/kubernetes/overlays';
const overlays = readdirSync(OVERLAYS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

function render(dir: string): K8sObject[] {
  const result = runTool('kubectl', ['kustomize', dir]);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);
}

/** The kubernetes-models class for an object: `apps/v1` + `Deployment` -> kubernetes-models/apps/v1/Deployment. */
async function validateObject(object: K8sObject): Promise<void> {
  const module = (await import(`kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<
    string,
    new (data: unknown) => Model
  >;
  new module[object.kind](object).validate();
}

function find<T = any>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name.startsWith(name));
  if (!found) throw new Error(`no ${kind} ${name} in ${objects.map((o) => o.kind).join(', ')}`);
  return found as T;
}

it('has the dev and production overlays', () => {
  expect(overlays).toEqual(expect.arrayContaining(['dev', 'production']));
});

it('rejects an object that breaks the API schema (the validator is not a no-op)', async () => {
  const broken = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'x' },
    spec: { ports: [{ port: 'http' }] },
  };
  await expect(validateObject(broken)).rejects.toThrow(/port must be integer/);
});

describe.each(overlays)('overlay %s', (overlay) => {
  const objects = render(`${OVERLAYS}/${overlay}`);

  it('renders every required kind, and each object is valid for the Kubernetes API', async () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Deployment',
      'Service',
      'ConfigMap',
      'PodDisruptionBudget',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    for (const object of objects) await validateObject(object);
  });

  it('commits no secret values: keys come from a Secret reference', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const env = find(objects, 'Deployment', 'switchboard').spec.template.spec.containers[0].env;
    const key = env.find((e: any) => e.name === 'SWITCHBOARD_API_KEY');
    expect(key.valueFrom.secretKeyRef).toEqual({ name: 'switchboard-keys', key: 'api-key' });
  });

  it('probes /healthz for liveness and /readyz for readiness, and sleeps in preStop before the drain', () => {
    const pod = find(objects, 'Deployment', 'switchboard').spec.template.spec;
    const container = pod.containers[0];
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    // /readyz is behind the gateway's DNS-rebinding guard: the probe must send an allowed Host.
    expect(container.readinessProbe.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'localhost' }]);
    expect(container.lifecycle.preStop.exec.command).toEqual(['sleep', '5']);
    // The grace period covers the preStop sleep and the gateway's default 30 s drain.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(5 + 30);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container.args).toEqual(
      expect.arrayContaining(['--config', '/etc/switchboard/gateway.yaml', '--host', '0.0.0.0']),
    );
  });

  it('mounts a config that the gateway accepts, with the environment the overlay gives it', () => {
    const deployment = find(objects, 'Deployment', 'switchboard');
    const pod = deployment.spec.template.spec;
    const configMapName = pod.volumes.find((v: any) => v.name === 'config').configMap.name;
    const file = find(objects, 'ConfigMap', configMapName).data['gateway.yaml'];
    // Resolve the container's env as the kubelet would (ConfigMap keys; the Secret stands in).
    const env: Record<string, string> = {};
    for (const entry of pod.containers[0].env) {
      const ref = entry.valueFrom.configMapKeyRef ?? entry.valueFrom.secretKeyRef;
      if (entry.valueFrom.secretKeyRef) env[entry.name] = 'a-secret-from-the-cluster-0123';
      else env[entry.name] = find(objects, 'ConfigMap', ref.name).data[ref.key];
    }
    const config = parseConfig(parse(file), { env, baseDir: '/etc/switchboard', file: 'gateway.yaml' });
    expect(config.redis?.url).toMatch(/^rediss?:\/\//);
    expect(config.listen.host).toBe('0.0.0.0');
  });

  it('selects the gateway pods from the Service, PodDisruptionBudget and NetworkPolicy; scales the Deployment', () => {
    const deployment = find(objects, 'Deployment', 'switchboard');
    const labels = deployment.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    expect(selects(find(objects, 'Service', 'switchboard').spec.selector)).toBe(true);
    expect(selects(find(objects, 'PodDisruptionBudget', 'switchboard').spec.selector.matchLabels)).toBe(true);
    expect(selects(find(objects, 'NetworkPolicy', 'switchboard').spec.podSelector.matchLabels)).toBe(true);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'switchboard');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'switchboard',
    });
    // The PDB must leave room for a voluntary eviction at the HPA's minimum.
    expect(find(objects, 'PodDisruptionBudget', 'switchboard').spec.minAvailable).toBeLessThan(
      hpa.spec.minReplicas,
    );
  });
});
