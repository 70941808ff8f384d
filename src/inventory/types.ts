// Shapes of an inventory: the state of every image field of the workloads in a cluster.
import type { ImageField, PodSpecInfo } from '../workload/index.ts';

/** States of one image field (docs/contract.md, "audit"). */
export const ImageState = {
  /** A digest that the tag written with it still names (or, without a tag, that the registry still holds). */
  pinned: 'pinned',
  /** The tag now names another digest than the one pinned with it (or no longer exists). */
  drifted: 'drifted',
  /** No digest, and the policy allows that. */
  unpinned: 'unpinned',
  /** The validation policy denies the image (or it is not a usable reference). */
  violation: 'violation',
  /** The pinned digest is no longer in the registry. */
  missing: 'missing',
  /** The registry could not be asked or did not answer. */
  failed: 'failed',
} as const;
export type ImageState = (typeof ImageState)[keyof typeof ImageState];

/** States that make `tagpin audit` exit 1. */
export const FAILING_STATES: ReadonlySet<ImageState> = new Set([ImageState.drifted, ImageState.unpinned, ImageState.violation, ImageState.missing]);

/** One image field of one workload and its state. */
export interface InventoryImage {
  readonly namespace: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** `metadata.uid` of the workload. */
  readonly uid: string;
  /** JSON Pointer of the field in its object. */
  readonly path: string;
  /** The value as written; null when it is not a string. */
  readonly image: string | null;
  readonly state: ImageState;
  /** The digest written in the image, when there is one. */
  readonly digest: string | null;
  /** What the image's tag names now, when it was looked up and differs from `digest` or was needed to tell. */
  readonly tagDigest: string | null;
  /** Why, for every state but `pinned`. */
  readonly reason: string | null;
  /** `exclude.namespaces` or `exclude.images` leaves this image alone; then it never fails the audit. */
  readonly excluded: string | null;
}

/** A listed object reduced to what the inventory needs. */
export interface Workload {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** UIDs of the owners marked `controller: true` (at most one in practice). */
  readonly controllers: readonly string[];
  readonly fields: readonly ImageField[];
  readonly pod: PodSpecInfo;
}

/** What one inventory found. */
export interface Inventory {
  readonly images: readonly InventoryImage[];
  /** Workloads reported (owned objects folded into their top owner). */
  readonly workloads: number;
  /** Objects listed, owned ones included. */
  readonly listed: number;
  /** Distinct lookups asked of the resolver (by tag and by digest, per set of credentials); the cache answers some. */
  readonly lookups: number;
  /** Problems that did not stop the inventory: kinds not served, pull secrets not readable. */
  readonly warnings: readonly string[];
}
