// Shapes of registry credentials and the keyring that matches them to images.

/** One set of credentials for a registry, as found in a docker config or pull secret. */
export interface Credential {
  readonly username?: string;
  readonly password?: string;
  /** docker `identitytoken`: exchanged for an access token at the token realm (refresh_token grant). */
  readonly identityToken?: string;
  /** Where it came from, for messages only (never the secret itself): "secret default/regcred". */
  readonly source: string;
  /** The config key it was listed under (`https://index.docker.io/v1/`, `127.0.0.1:5000`). */
  readonly key: string;
}

/** Finds the credentials that apply to an image, most specific first (kubelet keyring rules). */
export interface Keyring {
  /**
   * @param image normalized `registry/repository` (`docker.io/library/nginx`, `127.0.0.1:5000/demo/app`)
   * @returns every matching credential, most specific key first; empty when none match
   */
  lookup(image: string): readonly Credential[];
}
