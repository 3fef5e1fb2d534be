// Reads a JSON array of Kubernetes objects on stdin and prints a JSON array of problems: schema
// violations found by kubernetes-models (bundled OpenAPI schemas, checked with ajv, no cluster
// needed) and kinds it has no model for. Run by manifests.ts, because kubernetes-models is
// ES-module only and Jest's CommonJS runtime cannot import it.
import process from 'node:process';
import { text } from 'node:stream/consumers';

const objects = JSON.parse(await text(process.stdin));
const problems = [];
for (const object of objects) {
  const where = `${object.kind} ${object.metadata?.name}`;
  // apps/v1 -> kubernetes-models/apps/v1; the core group's v1 -> kubernetes-models/v1
  let models;
  try {
    models = await import(`kubernetes-models/${object.apiVersion}`);
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
