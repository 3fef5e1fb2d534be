// Reads a JSON array of Kubernetes objects on stdin and prints a JSON array of problems: schema
// violations found by kubernetes-models (bundled OpenAPI schemas, checked with ajv, no cluster
// needed) and kinds it has no model for. Custom resources are checked against the schemas of their
// CRDs that the @kubernetes-models packages publish (KEDA, prometheus-operator). Run by
// manifests.ts, because these packages are ES-module only and Jest's CommonJS runtime cannot
// import them.
import process from 'node:process';
import { text } from 'node:stream/consumers';

/** API groups of custom resources, and the package holding their CRDs' schemas. */
const CRD_PACKAGES = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

const objects = JSON.parse(await text(process.stdin));
const problems = [];
for (const object of objects) {
  const where = `${object.kind} ${object.metadata?.name}`;
  // apps/v1 -> kubernetes-models/apps/v1; the core group's v1 -> kubernetes-models/v1
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  const crdPackage = CRD_PACKAGES[group];
  let models;
  try {
    models = await import(crdPackage ? `${crdPackage}/${object.apiVersion}` : `kubernetes-models/${object.apiVersion}`);
  } catch {
    problems.push(`${where}: kubernetes-models has no API version ${object.apiVersion}`);
    continue;
  }
  const Model = models[object.kind];
  if (typeof Model !== 'function') {
    problems.push(`${where}: kubernetes-models has no kind ${object.kind} in ${object.apiVersion}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    problems.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
process.stdout.write(JSON.stringify(problems));
