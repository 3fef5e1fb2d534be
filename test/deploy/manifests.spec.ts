import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyJson6902, buildKustomization, strategicMerge, type Workload } from './manifests';

/*
 * buildKustomization stands in for `kustomize build` in every test run, so it is tested on small
 * kustomizations written here, for each behaviour the manifests rely on.
 */

let root = '';
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kustomize-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: app
          env:
            - { name: A, value: '1' }
            - { name: B, value: '2' }
`;

describe('buildKustomization', () => {
  it('sets the namespace, labels (templates too, not selectors), images and replicas of a base', () => {
    write({
      'base/web.yaml': deployment,
      'base/kustomization.yaml': 'resources: [web.yaml]\n',
      'overlay/kustomization.yaml': `namespace: ns
resources: [../base]
labels:
  - pairs: { team: x }
    includeTemplates: true
images:
  - { name: app, newName: registry.example.com/app, newTag: '1.2' }
replicas:
  - { name: web, count: 5 }
`,
    });
    const [web] = buildKustomization(join(root, 'overlay')) as Workload[];
    expect(web.metadata).toEqual({ name: 'web', namespace: 'ns', labels: { team: 'x' } });
    expect(web.spec.template.metadata?.labels).toEqual({ app: 'web', team: 'x' });
    expect(web.spec.selector?.matchLabels).toEqual({ app: 'web' });
    expect(web.spec.template.spec.containers[0].image).toBe('registry.example.com/app:1.2');
    expect(web.spec.replicas).toBe(5);
  });

  it('applies a component’s resources and patches to what its parent has', () => {
    write({
      'base/web.yaml': deployment,
      'base/kustomization.yaml': 'resources: [web.yaml]\n',
      'component/pdb.yaml': 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: { name: web }\n',
      'component/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [pdb.yaml]
patches:
  - target: { kind: Deployment, name: web|other }
    patch: |-
      - op: remove
        path: /spec/replicas
`,
      'overlay/kustomization.yaml': 'namespace: ns\nresources: [../base]\ncomponents: [../component]\n',
    });
    const objects = buildKustomization(join(root, 'overlay')) as Workload[];
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'Deployment ns/web',
      'PodDisruptionBudget ns/web',
    ]);
    expect(objects[0].spec.replicas).toBeUndefined();
  });

  it('deletes an object with `$patch: delete`, and fails on a patch that matches nothing', () => {
    write({
      'base/web.yaml': `${deployment}---\napiVersion: v1\nkind: Secret\nmetadata: { name: s }\n`,
      'base/kustomization.yaml': 'resources: [web.yaml]\n',
      'overlay/kustomization.yaml': `resources: [../base]
patches:
  - patch: |-
      apiVersion: v1
      kind: Secret
      metadata: { name: s }
      $patch: delete
`,
      'broken/kustomization.yaml': `resources: [../base]
patches:
  - patch: |-
      apiVersion: v1
      kind: Secret
      metadata: { name: missing }
      data: { a: b }
`,
    });
    expect(buildKustomization(join(root, 'overlay')).map((o) => o.kind)).toEqual(['Deployment']);
    expect(() => buildKustomization(join(root, 'broken'))).toThrow(/matches nothing/);
  });

  it('refuses a field it does not implement rather than ignore it', () => {
    write({ 'k/kustomization.yaml': 'resources: []\ncommonAnnotations: { a: b }\n' });
    expect(() => buildKustomization(join(root, 'k'))).toThrow(/does not implement: commonAnnotations/);
  });

  it('refuses an object defined twice', () => {
    write({ 'k/a.yaml': deployment, 'k/b.yaml': deployment, 'k/kustomization.yaml': 'resources: [a.yaml, b.yaml]\n' });
    expect(() => buildKustomization(join(root, 'k'))).toThrow(/defined twice/);
  });
});

describe('strategicMerge', () => {
  it('merges maps, removes a key set to null, and merges named list items by name', () => {
    const base = {
      a: { b: 1, c: 2 },
      list: [
        { name: 'x', v: 1 },
        { name: 'y', v: 2 },
      ],
      plain: [1, 2],
    };
    const patch = {
      a: { c: null, d: 3 },
      list: [
        { name: 'y', v: 9 },
        { name: 'z', v: 3 },
      ],
      plain: [3],
    };
    expect(strategicMerge(base, patch)).toEqual({
      a: { b: 1, d: 3 },
      list: [
        { name: 'x', v: 1 },
        { name: 'y', v: 9 },
        { name: 'z', v: 3 },
      ],
      plain: [3],
    });
  });

  it('removes a named list item marked `$patch: delete`', () => {
    expect(strategicMerge([{ name: 'x' }, { name: 'y' }], [{ name: 'x', $patch: 'delete' }])).toEqual([{ name: 'y' }]);
  });
});

describe('applyJson6902', () => {
  it('adds (with ~1 for a slash), replaces and removes, and fails on a path that does not exist', () => {
    const object = { metadata: { annotations: {} as Record<string, string> }, spec: { replicas: 2, list: [1, 2] } };
    applyJson6902(
      object,
      [
        { op: 'add', path: '/metadata/annotations/example.com~1key', value: 'v' },
        { op: 'replace', path: '/spec/list/1', value: 5 },
        { op: 'remove', path: '/spec/replicas' },
      ],
      'test',
    );
    expect(object).toEqual({ metadata: { annotations: { 'example.com/key': 'v' } }, spec: { list: [1, 5] } });
    expect(() => applyJson6902(object, [{ op: 'remove', path: '/spec/replicas' }], 'test')).toThrow(/no such path/);
  });
});
