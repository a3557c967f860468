package deploy

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// object is the part of a rendered Kubernetes object the tests look at.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// A Service's selector is a plain map, unlike a Deployment's: serviceSelector reads it from raw.
		Ports []struct {
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
	raw map[string]any
}

type podSpec struct {
	ServiceAccountName           string          `yaml:"serviceAccountName"`
	AutomountServiceAccountToken *bool           `yaml:"automountServiceAccountToken"`
	SecurityContext              securityContext `yaml:"securityContext"`
	Containers                   []container     `yaml:"containers"`
	Volumes                      []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
		EmptyDir map[string]any `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name            string   `yaml:"name"`
	Image           string   `yaml:"image"`
	Args            []string `yaml:"args"`
	ImagePullPolicy string   `yaml:"imagePullPolicy"`
	Ports           []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	LivenessProbe   *probe          `yaml:"livenessProbe"`
	ReadinessProbe  *probe          `yaml:"readinessProbe"`
	SecurityContext securityContext `yaml:"securityContext"`
	Resources       struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

// rendered is the output of one kustomization, by kind and name.
type rendered map[string]*object

func (r rendered) get(t *testing.T, kind, name string) *object {
	t.Helper()
	o, ok := r[kind+"/"+name]
	require.Truef(t, ok, "no %s %q in the rendered output", kind, name)
	return o
}

// byPrefix finds the one object of kind whose name starts with prefix (generated names carry a hash).
func (r rendered) byPrefix(t *testing.T, kind, prefix string) *object {
	t.Helper()
	var found *object
	for _, o := range r {
		if o.Kind == kind && strings.HasPrefix(o.Metadata.Name, prefix+"-") {
			require.Nilf(t, found, "two %s named %s-…", kind, prefix)
			found = o
		}
	}
	require.NotNilf(t, found, "no %s named %s-…", kind, prefix)
	return found
}

// render runs kustomize on dir, as `kubectl kustomize dir` does, and parses every document of its YAML.
func render(t *testing.T, dir string) rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	out, err := m.AsYaml()
	require.NoError(t, err)
	objects := rendered{}
	for _, doc := range documents(t, out) {
		var o object
		require.NoError(t, doc.Decode(&o))
		require.NoError(t, doc.Decode(&o.raw))
		require.NotEmpty(t, o.APIVersion, "every object has an apiVersion")
		require.NotEmpty(t, o.Kind, "every object has a kind")
		require.NotEmpty(t, o.Metadata.Name, "every %s has a name", o.Kind)
		key := o.Kind + "/" + o.Metadata.Name
		require.NotContains(t, objects, key, "duplicate object")
		objects[key] = &o
	}
	return objects
}

func documents(t *testing.T, out []byte) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, "the rendered output is not valid YAML")
		docs = append(docs, &n)
	}
}

func TestOverlays(t *testing.T) {
	tests := []struct {
		region    string
		replicas  int
		publicURL string
	}{
		{region: "us", replicas: 3, publicURL: "https://verifier-us.example.com"},
		{region: "eu", replicas: 2, publicURL: "https://verifier-eu.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			out := render(t, "overlays/"+tt.region)
			namespace := "entra-verifier-" + tt.region
			for _, o := range out {
				if o.Kind != "Namespace" {
					assert.Equal(t, namespace, o.Metadata.Namespace, "%s %s", o.Kind, o.Metadata.Name)
				}
			}
			ns := out.get(t, "Namespace", namespace)
			assert.Equal(t, "restricted", ns.Metadata.Labels["pod-security.kubernetes.io/enforce"])

			d := out.get(t, "Deployment", "entra-verifier")
			require.NotNil(t, d.Spec.Replicas)
			assert.Equal(t, tt.replicas, *d.Spec.Replicas)
			assertSelects(t, d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels)
			pod := d.Spec.Template.Spec
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			assert.Equal(t, "registry.example.com/entra-verifier:0.1.0", c.Image)
			assertHardened(t, pod, c)
			require.Len(t, c.Ports, 2)
			assert.Equal(t, "http", c.Ports[0].Name)
			assert.Equal(t, 8080, c.Ports[0].ContainerPort)
			assertHTTPProbe(t, "liveness", c.LivenessProbe, "/healthz", c.Ports[0].Name)
			assertHTTPProbe(t, "readiness", c.ReadinessProbe, "/readyz", c.Ports[0].Name)

			// Settings: the generated ConfigMap the container reads its environment from.
			require.Len(t, c.EnvFrom, 1)
			require.NotNil(t, c.EnvFrom[0].ConfigMapRef, "non-secret settings come from a ConfigMap")
			env := out.get(t, "ConfigMap", c.EnvFrom[0].ConfigMapRef.Name)
			assert.Equal(t, out.byPrefix(t, "ConfigMap", "entra-verifier-env"), env)
			assert.Equal(t, tt.region, env.Data["VERIFIER_REGION"])
			assert.Equal(t, tt.publicURL, env.Data["VERIFIER_PUBLIC_URL"])
			assert.Equal(t, "redis", env.Data["VERIFIER_STORE"])
			assert.Equal(t, ":8080", env.Data["VERIFIER_LISTEN_ADDR"])
			assertMetricsPort(t, d, c, env)
			for _, secret := range []string{"ENTRA_CLIENT_SECRET", "ENTRA_CALLBACK_SECRET", "IPA_CLIENT_SECRET", "GIPS_RS_API_KEY"} {
				assert.NotContains(t, env.Data, secret, "a secret in the ConfigMap")
			}

			// Credentials: each from the Secret, which holds placeholders only.
			secret := out.get(t, "Secret", "entra-verifier-credentials")
			fromSecret := map[string]bool{}
			for _, e := range c.Env {
				require.NotNil(t, e.ValueFrom, "%s: plain values belong in the ConfigMap", e.Name)
				ref := e.ValueFrom.SecretKeyRef
				require.NotNil(t, ref, e.Name)
				assert.Equal(t, secret.Metadata.Name, ref.Name, e.Name)
				assert.Equal(t, e.Name, ref.Key, "the Secret's key is named after the variable")
				if !ref.Optional {
					assert.Contains(t, secret.StringData, ref.Key)
				}
				fromSecret[e.Name] = true
			}
			for _, name := range []string{"ENTRA_CALLBACK_SECRET", "IPA_CLIENT_SECRET"} {
				assert.True(t, fromSecret[name], "%s comes from the Secret", name)
			}
			assertWorkloadIdentity(t, out, d, env, secret)
			for k, v := range secret.StringData {
				assert.Equal(t, "REPLACE_ME", v, "the Secret's %s must be a placeholder, never a real value", k)
			}
			assert.Empty(t, secret.Data, "the Secret holds placeholders in stringData only")

			// DID descriptors: a ConfigMap mounted as files where WELLKNOWN_* point.
			wk := out.byPrefix(t, "ConfigMap", "entra-verifier-wellknown")
			assert.Contains(t, wk.Data["did.json"], `"did:web:verifier-`+tt.region+`.example.com"`)
			assert.Equal(t, "did:web:verifier-"+tt.region+".example.com", env.Data["ENTRA_VERIFIER_DID"])
			mounted := ""
			for _, v := range pod.Volumes {
				if v.ConfigMap != nil && v.ConfigMap.Name == wk.Metadata.Name {
					for _, m := range c.VolumeMounts {
						if m.Name == v.Name {
							assert.True(t, m.ReadOnly)
							mounted = m.MountPath
						}
					}
				}
			}
			require.NotEmpty(t, mounted, "the descriptors ConfigMap is mounted")
			assert.Equal(t, mounted+"/did.json", env.Data["WELLKNOWN_DID_JSON"])
			assert.Equal(t, mounted+"/did-configuration.json", env.Data["WELLKNOWN_DID_CONFIGURATION_JSON"])

			// The Service reaches the pods on their http port.
			svc := out.get(t, "Service", "entra-verifier")
			assertSelects(t, serviceSelector(t, svc), d.Spec.Template.Metadata.Labels)
			require.Len(t, svc.Spec.Ports, 1, "the Service exposes the public port only, never metrics")
			assert.Equal(t, c.Ports[0].Name, svc.Spec.Ports[0].TargetPort)
			assert.NotEqual(t, 9090, svc.Spec.Ports[0].Port)

			// The overlay's own Redis, which REDIS_URL names.
			redis := out.get(t, "Deployment", "entra-verifier-redis")
			redisSvc := out.get(t, "Service", "entra-verifier-redis")
			assert.Equal(t, "redis://"+redisSvc.Metadata.Name+":6379/0", env.Data["REDIS_URL"])
			assertSelects(t, serviceSelector(t, redisSvc), redis.Spec.Template.Metadata.Labels)
			require.Len(t, redis.Spec.Template.Spec.Containers, 1)
			assertHardened(t, redis.Spec.Template.Spec, redis.Spec.Template.Spec.Containers[0])
			assertDurableRedis(t, out, redis)
			out.get(t, "NetworkPolicy", "entra-verifier-redis")
			out.get(t, "PodDisruptionBudget", "entra-verifier")
		})
	}
}

// assertWorkloadIdentity checks the recommended Entra credential: Azure Workload Identity's federated token
// (AZURE_FEDERATED_TOKEN_FILE, the default of ENTRA_CLIENT_ASSERTION_FILE), no client secret anywhere.
func assertWorkloadIdentity(t *testing.T, out rendered, d, env, secret *object) {
	t.Helper()
	pod := d.Spec.Template.Spec
	assert.Equal(t, "true", d.Spec.Template.Metadata.Labels["azure.workload.identity/use"], "the webhook projects the token into labelled pods")
	assert.NotContains(t, d.Spec.Selector.MatchLabels, "azure.workload.identity/use", "the selector stays immutable")
	sa := out.get(t, "ServiceAccount", pod.ServiceAccountName)
	assert.Equal(t, env.Data["ENTRA_CLIENT_ID"], sa.Metadata.Annotations["azure.workload.identity/client-id"],
		"the service account names the app registration ENTRA_CLIENT_ID names")
	for _, e := range pod.Containers[0].Env {
		assert.NotEqual(t, "ENTRA_CLIENT_SECRET", e.Name, "no client secret beside the federated token")
		assert.NotEqual(t, "ENTRA_CLIENT_CERTIFICATE", e.Name)
	}
	assert.NotContains(t, secret.StringData, "ENTRA_CLIENT_SECRET")
	for _, name := range []string{"ENTRA_CLIENT_SECRET", "ENTRA_CLIENT_CERTIFICATE", "ENTRA_CLIENT_ASSERTION_FILE"} {
		assert.NotContains(t, env.Data, name, "the credential is AZURE_FEDERATED_TOKEN_FILE, set by the webhook")
	}
}

// assertMetricsPort checks that /metrics has its own listener (VERIFIER_METRICS_ADDR) on a named container
// port, the one Prometheus is told to scrape, away from the public port.
func assertMetricsPort(t *testing.T, d *object, c container, env *object) {
	t.Helper()
	assert.Equal(t, ":9090", env.Data["VERIFIER_METRICS_ADDR"], "metrics off the public listener")
	require.Len(t, c.Ports, 2)
	assert.Equal(t, "metrics", c.Ports[1].Name)
	assert.Equal(t, 9090, c.Ports[1].ContainerPort)
	a := d.Spec.Template.Metadata.Annotations
	assert.Equal(t, "true", a["prometheus.io/scrape"])
	assert.Equal(t, "9090", a["prometheus.io/port"], "Prometheus scrapes the metrics port")
	assert.Equal(t, "/metrics", a["prometheus.io/path"])
}

// assertHardened checks the restricted Pod Security Standard and our own rules for one container.
func assertHardened(t *testing.T, pod podSpec, c container) {
	t.Helper()
	effective := func(pod, ctr *bool) bool {
		if ctr != nil {
			return *ctr
		}
		return pod != nil && *pod
	}
	assert.True(t, effective(pod.SecurityContext.RunAsNonRoot, c.SecurityContext.RunAsNonRoot), "%s: runAsNonRoot", c.Name)
	if u := pod.SecurityContext.RunAsUser; u != nil {
		assert.NotZero(t, *u, "%s: runAsUser", c.Name)
	}
	seccomp := c.SecurityContext.SeccompProfile.Type
	if seccomp == "" {
		seccomp = pod.SecurityContext.SeccompProfile.Type
	}
	assert.Equal(t, "RuntimeDefault", seccomp, "%s: seccomp profile", c.Name)
	sc := c.SecurityContext
	assert.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: readOnlyRootFilesystem", c.Name)
	assert.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: allowPrivilegeEscalation false", c.Name)
	assert.Equal(t, []string{"ALL"}, sc.Capabilities.Drop, "%s: capabilities", c.Name)
	assert.False(t, pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken, "%s: no service account token", c.Name)
	for _, r := range []string{"cpu", "memory"} {
		assert.NotEmpty(t, c.Resources.Requests[r], "%s: %s request", c.Name, r)
	}
	assert.NotEmpty(t, c.Resources.Limits["memory"], "%s: memory limit", c.Name)
	assert.NotEqual(t, "Always", c.ImagePullPolicy, "%s: pinned images need no pull on every start", c.Name)
	assert.NotContains(t, c.Image, ":latest", c.Name)
	assert.Contains(t, c.Image, ":", "%s: the image has a tag", c.Name)
}

func assertHTTPProbe(t *testing.T, kind string, p *probe, path, port string) {
	t.Helper()
	require.NotNil(t, p, "%s probe", kind)
	require.NotNil(t, p.HTTPGet, "%s probe is an HTTP GET", kind)
	assert.Equal(t, path, p.HTTPGet.Path, "%s probe", kind)
	assert.Equal(t, port, p.HTTPGet.Port, "%s probe", kind)
}

func assertSelects(t *testing.T, selector, labels map[string]string) {
	t.Helper()
	require.NotEmpty(t, selector)
	for k, v := range selector {
		assert.Equal(t, v, labels[k], "selector %s", k)
	}
}

func serviceSelector(t *testing.T, svc *object) map[string]string {
	t.Helper()
	spec, _ := svc.raw["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	out := map[string]string{}
	for k, v := range sel {
		out[k], _ = v.(string)
	}
	return out
}

// TestBase renders the base alone: it must stay valid for overlays other than ours.
func TestBase(t *testing.T) {
	out := render(t, "base")
	d := out.get(t, "Deployment", "entra-verifier")
	assert.Equal(t, "memory", out.byPrefix(t, "ConfigMap", "entra-verifier-env").Data["VERIFIER_STORE"])
	// The base keeps the client secret, for clusters without workload identity.
	env := d.Spec.Template.Spec.Containers[0].Env
	require.NotEmpty(t, env)
	assert.Equal(t, "ENTRA_CLIENT_SECRET", env[0].Name)
	assert.Contains(t, out.get(t, "Secret", "entra-verifier-credentials").StringData, "ENTRA_CLIENT_SECRET")
	assert.NotContains(t, d.Spec.Template.Metadata.Labels, "azure.workload.identity/use")
	assertHardened(t, d.Spec.Template.Spec, d.Spec.Template.Spec.Containers[0])
	assertMetricsPort(t, d, d.Spec.Template.Spec.Containers[0], out.byPrefix(t, "ConfigMap", "entra-verifier-env"))
	svc := out.get(t, "Service", "entra-verifier")
	require.Len(t, svc.Spec.Ports, 1, "the Service exposes the public port only, never metrics")
	assert.Equal(t, "http", svc.Spec.Ports[0].TargetPort)
}

// assertDurableRedis checks that the Redis component keeps what it acknowledged across a restart (SPEC §10):
// an append-only file fsynced at every write, in a directory on a PersistentVolumeClaim, one pod at a time.
func assertDurableRedis(t *testing.T, out rendered, redis *object) {
	t.Helper()
	c := redis.Spec.Template.Spec.Containers[0]
	arg := func(name string) string {
		i := slices.Index(c.Args, name)
		if i < 0 || i+1 >= len(c.Args) {
			return ""
		}
		return c.Args[i+1]
	}
	assert.Equal(t, "yes", arg("--appendonly"), "append-only file: %v", c.Args)
	assert.Equal(t, "always", arg("--appendfsync"), "fsync at every write: %v", c.Args)
	assert.Equal(t, "noeviction", arg("--maxmemory-policy"), "a full Redis refuses writes, never drops records")
	dir := arg("--dir")
	require.NotEmpty(t, dir, "the data directory is explicit")
	var mounted string
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir && !m.ReadOnly {
			mounted = m.Name
		}
	}
	require.NotEmpty(t, mounted, "the data directory %s is a writable volume mount", dir)
	var claim string
	for _, v := range redis.Spec.Template.Spec.Volumes {
		if v.Name == mounted {
			assert.Nil(t, v.EmptyDir, "the data volume is not an emptyDir")
			require.NotNil(t, v.PersistentVolumeClaim, "the data volume is a PersistentVolumeClaim")
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	pvc := out.get(t, "PersistentVolumeClaim", claim)
	spec, _ := pvc.raw["spec"].(map[string]any)
	assert.Equal(t, []any{"ReadWriteOnce"}, spec["accessModes"])
	assert.NotEmpty(t, spec["resources"], "the claim asks for storage")
	strategy, _ := redis.raw["spec"].(map[string]any)["strategy"].(map[string]any)
	assert.Equal(t, "Recreate", strategy["type"], "never two Redis pods on the volume")
	sc, _ := redis.raw["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["securityContext"].(map[string]any)
	assert.EqualValues(t, 999, sc["fsGroup"], "the volume is writable by the redis user")
}

// TestRedisExamples renders the Sentinel and Cluster examples: the redis store in the right mode, a
// REDIS_URL of that mode's form naming several nodes, and no Redis of the overlay's own.
func TestRedisExamples(t *testing.T) {
	for _, mode := range []string{"sentinel", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			out := render(t, "examples/"+mode)
			env := out.byPrefix(t, "ConfigMap", "entra-verifier-env")
			assert.Equal(t, "redis", env.Data["VERIFIER_STORE"])
			assert.Equal(t, mode, env.Data["VERIFIER_REDIS_MODE"])
			u, err := url.Parse(env.Data["REDIS_URL"])
			require.NoError(t, err)
			assert.Equal(t, "redis", u.Scheme)
			assert.Len(t, u.Query()["addr"], 2, "more nodes than the URL's host")
			if mode == "sentinel" {
				assert.Equal(t, "mymaster", u.Query().Get("master_name"))
				assert.Equal(t, "/0", u.Path)
			}
			for key, o := range out {
				assert.NotEqual(t, "redis", o.Metadata.Labels["app.kubernetes.io/component"], "%s: no Redis of its own", key)
			}
			d := out.get(t, "Deployment", "entra-verifier")
			require.NotNil(t, d.Spec.Replicas)
			assert.Greater(t, *d.Spec.Replicas, 1)
		})
	}
}
