// Every fixed name the plugin lays out on disk, in one place: the state
// directory, the data directory, each volume's directory and the GlusterFS
// pool. The places themselves (CUSTOM_STATE_DIR, CUSTOM_DATA_DIR, …) are
// configuration; these names inside them are not.

// In the state directory:
/** The index of volumes (lowdb, written atomically). */
export const STATE_FILE_NAME = 'state.json';
/** This plugin instance's random tag, used in device-mapper names (instance-tag.ts). */
export const INSTANCE_FILE = 'instance';
/** CUSTOM_TEST_PAUSE_AT: the step a fault test paused at. */
export const PAUSED_AT_FILE = 'paused-at';

// In the data directory, and in a GlusterFS pool volume (paths relative to its
// root there, as quota wants them). A volume exists exactly when its directory
// does: made under CREATING_DIR and renamed into place, renamed into TRASH_DIR
// as the first step of a Remove.
/** Creates in flight: .creating/<id>.<random>; in a pool .creating/<host uuid>/<id>.<random>. */
export const CREATING_DIR = '.creating';
/** Removes in flight: .trash/<id>.<random>; in a pool .trash/<host uuid>/<id>.<random>. */
export const TRASH_DIR = '.trash';
/** retain=true: the volume's directory moved here on Remove, with its data. */
export const RETAINED_DIR = '.retained';
/** In a pool, committed volumes: volumes/<id>/{volume.json,_data,hosts/}. */
export const VOLUMES_DIR = 'volumes';

// In one volume's directory:
/** The volume's own small record (volume-meta.ts). */
export const META_FILE = 'volume.json';
/** The image file of an image volume. */
export const IMAGE_NAME = 'disk.img';
/** An image volume's snapshots: <name>.json then <name>.img. */
export const SNAPSHOT_DIR = 'snapshots';
/** Marks a filesystem frozen by this plugin: a plugin that died meanwhile thaws it at its next start. */
export const FROZEN_MARK = '.frozen';
/** A volume being created or removed is mounted (if at all) here, never at its live mount root. */
export const UNMOUNTED_DIR = 'unmounted';
/** A retained encrypted volume's generated key, moved in beside its image. */
export const RETAINED_KEY_FILE = 'volume.key';
/** In a pool volume's directory: one file per host that has it mounted, named by the host's glusterd UUID. */
export const HOSTS_DIR = 'hosts';

/** What containers see (Docker's convention): in a volume's mount root, and in a pool volume's directory. */
export const VOLUME_ROOT_DIR = '_data';
