/** Names of env variables whose values never appear in logs or error messages. */
export const SENSITIVE_KEYS = new Set<string>();

/** Marks an env field as secret so that `loadEnv` errors and `maskSecrets` hide its value. */
export function Sensitive(): PropertyDecorator {
  return (_target, propertyKey) => {
    SENSITIVE_KEYS.add(String(propertyKey));
  };
}
