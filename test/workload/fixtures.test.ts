// Fixtures: every object fixture is schema-valid and lists the image paths expected.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { Pod, PodTemplate, ReplicationController } from 'kubernetes-models/v1';
import { SUPPORTED_KINDS } from '../../src/config/index.ts';
import { getAtPointer, listImages, podSpecOf } from '../../src/workload/index.ts';

const APP = '127.0.0.1:5000/demo/app:v1';
const MODELS = '127.0.0.1:5000/demo/models:v1';

/** Every fixture with the image fields it must yield, in listing order. */
const FIXTURES = {
  Pod: {
    file: 'pod.json',
    model: Pod,
    images: {
      '/spec/containers/0/image': 'nginx:1.27',
      '/spec/containers/1/image': APP,
      '/spec/initContainers/0/image': 'busybox:1.36',
      '/spec/volumes/1/image/reference': MODELS,
    },
  },
  PodTemplate: {
    file: 'podtemplate.json',
    model: PodTemplate,
    images: { '/template/spec/containers/0/image': 'nginx:1.27', '/template/spec/containers/1/image': APP },
  },
  ReplicationController: {
    file: 'replicationcontroller.json',
    model: ReplicationController,
    images: { '/spec/template/spec/containers/0/image': 'nginx:1.27' },
  },
  ReplicaSet: {
    file: 'replicaset.json',
    model: ReplicaSet,
    images: { '/spec/template/spec/containers/0/image': APP, '/spec/template/spec/initContainers/0/image': 'busybox:1.36' },
  },
  Deployment: {
    file: 'deployment.json',
    model: Deployment,
    images: {
      '/spec/template/spec/containers/0/image': 'nginx:1.27',
      '/spec/template/spec/containers/1/image': APP,
      '/spec/template/spec/initContainers/0/image': APP,
      '/spec/template/spec/volumes/0/image/reference': MODELS,
    },
  },
  StatefulSet: {
    file: 'statefulset.json',
    model: StatefulSet,
    images: { '/spec/template/spec/containers/0/image': 'postgres:17', '/spec/template/spec/containers/1/image': APP },
  },
  DaemonSet: {
    file: 'daemonset.json',
    model: DaemonSet,
    images: { '/spec/template/spec/containers/0/image': APP, '/spec/template/spec/initContainers/0/image': 'busybox:1.36' },
  },
  Job: {
    file: 'job.json',
    model: Job,
    images: { '/spec/template/spec/containers/0/image': APP, '/spec/template/spec/initContainers/0/image': 'busybox:1.36' },
  },
  CronJob: {
    file: 'cronjob.json',
    model: CronJob,
    images: {
      '/spec/jobTemplate/spec/template/spec/containers/0/image': APP,
      '/spec/jobTemplate/spec/template/spec/containers/1/image': 'nginx:1.27',
    },
  },
} as const;

function readFixture(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/objects/${file}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

describe('object fixtures', () => {
  it('cover every supported kind', () => {
    assert.deepEqual(Object.keys(FIXTURES).sort(), [...SUPPORTED_KINDS].sort());
  });

  for (const [kind, { file, model, images }] of Object.entries(FIXTURES)) {
    it(`${file} is a valid ${kind} and lists exactly its image fields`, () => {
      const object = readFixture(file);
      assert.equal(object.kind, kind);
      // The schema check guards the fixtures themselves: other tests trust them to be real objects.
      new model(object as never).validate();
      const found = Object.fromEntries(listImages(kind, object).map((f) => [f.path, f.value]));
      assert.deepEqual(found, images);
      for (const [path, image] of Object.entries(images)) assert.equal(getAtPointer(object, path), image);
    });
  }

  it('carry pull credentials where the README says', () => {
    assert.deepEqual(podSpecOf('Pod', readFixture('pod.json')), { serviceAccountName: 'web', imagePullSecrets: ['regcred'] });
    assert.deepEqual(podSpecOf('Deployment', readFixture('deployment.json')), {
      serviceAccountName: undefined,
      imagePullSecrets: ['regcred'],
    });
    assert.deepEqual(podSpecOf('DaemonSet', readFixture('daemonset.json')), {
      serviceAccountName: 'node-agent',
      imagePullSecrets: [],
    });
  });
});
