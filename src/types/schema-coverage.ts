// Compile-time proof that Berth's API object types declare every field moby's schema lists (plus
// the overlay in api-overlay.yaml): a field the schema gains, or one forgotten here, fails the
// build naming it ("Type '"Field"' does not satisfy the constraint 'never'"). Types only: emits nothing.
import type * as Schema from './engine-api.gen.js';
import type * as Berth from './api.js';

type Missing<Ours, Theirs> = Exclude<keyof Theirs, keyof Ours>;
type None<T extends never> = T;

export type Checked = [
  None<Missing<Berth.ContainerConfig, Schema.ContainerConfig>>,
  None<Missing<Berth.HostConfig, Schema.HostConfig>>,
  None<Missing<Berth.ContainerState, Schema.ContainerState>>,
  None<Missing<Berth.NetworkSettings, Schema.NetworkSettings>>,
  None<Missing<Berth.EndpointSettings, Schema.EndpointSettings>>,
  None<Missing<Berth.NetworkingConfig, Schema.NetworkingConfig>>,
  None<Missing<Berth.MountPoint, Schema.MountPoint>>,
  None<Missing<Berth.GraphDriverData, Schema.GraphDriverData>>,
  None<Missing<Berth.ContainerSummary, Schema.ContainerSummary[number]>>,
  None<Missing<Berth.ImageInspect, Schema.Image>>,
  None<Missing<Berth.ImageSummary, Schema.ImageSummary>>,
  None<Missing<Berth.ImageDeleteResponseItem, Schema.ImageDeleteResponseItem>>,
  None<Missing<Berth.VersionResponse, Schema.SystemVersion>>,
  None<Missing<Berth.AuthConfig, Schema.AuthConfig>>,
  None<Missing<Berth.BuildCacheRecord, Schema.BuildCache>>,
];
