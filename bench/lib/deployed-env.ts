import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './paths';

/**
 * A setting of the Kubernetes manifests' ConfigMap (`k8s/base/config.yaml`), which every app
 * reads: a benchmark that measures an app as deployed runs it with the same value.
 */
export function deployedSetting(name: string): string {
  const configMap = parse(readFileSync(join(repoRoot(), 'k8s/base/config.yaml'), 'utf8')) as {
    data?: Record<string, unknown>;
  };
  const value = configMap.data?.[name];
  if (typeof value !== 'string') throw new Error(`k8s/base/config.yaml sets no ${name}`);
  return value;
}
