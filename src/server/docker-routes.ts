import { DOCKER, type Scope } from '../api/docker.js';
import type { Logger } from '../log.js';
import type { VolumeDriver } from './ports.js';
import { serve, type PluginRouter } from './route.js';

// Docker's volume plugin protocol (VolumeDriver): each call one method of the driver.

export function addDockerRoutes(router: PluginRouter, driver: VolumeDriver, log: Logger, scope: Scope): void {
  serve(router, DOCKER.activate, () => ({ Implements: ['VolumeDriver'] }));
  serve(router, DOCKER.capabilities, () => ({ Capabilities: { Scope: scope } }));
  serve(router, DOCKER.create, async ({ name, opts }) => {
    log.info({ volume: name, optionKeys: Object.keys(opts ?? {}) }, 'create');
    await driver.create(name, opts);
    return { Err: '' };
  });
  serve(router, DOCKER.remove, async ({ name }) => {
    await driver.remove(name);
    return { Err: '' };
  });
  serve(router, DOCKER.mount, async ({ name, id }) => ({ Mountpoint: await driver.mount(name, id), Err: '' }));
  serve(router, DOCKER.unmount, async ({ name, id }) => {
    await driver.unmount(name, id);
    return { Err: '' };
  });
  serve(router, DOCKER.path, async ({ name }) => ({ Mountpoint: await driver.path(name), Err: '' }));
  serve(router, DOCKER.get, async ({ name }) => {
    const volume = await driver.get(name);
    return {
      Volume: { Name: volume.name, Mountpoint: volume.mountpoint, CreatedAt: volume.createdAt, Status: volume.status },
      Err: '',
    };
  });
  serve(router, DOCKER.list, async () => ({
    Volumes: (await driver.list()).map((v) => ({ Name: v.name, Mountpoint: v.mountpoint })),
    Err: '',
  }));
}
