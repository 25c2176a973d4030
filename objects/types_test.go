package objects_test

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/oslo-go/messaging/objects"
)

// Nova-like test objects: Flavor 1.1 (extra_specs since 1.1), Tag 1.0,
// Instance 1.3 (flavor 1.1 and tags since 1.2; key_data since 1.3, and
// memory_mb a string before 1.3), InstanceList 1.1.
type Flavor struct {
	objects.Base
	ID         int64             `obj:"id"`
	Name       string            `obj:"name"`
	ExtraSpecs map[string]string `obj:"extra_specs,since=1.1"`
}

type Tag struct {
	objects.Base
	Tag string `obj:"tag"`
}

type Timestamps struct {
	CreatedAt *time.Time `obj:"created_at,nullable"`
	UpdatedAt *time.Time `obj:"updated_at,nullable"`
}

type Instance struct {
	objects.Base
	Timestamps
	ID         int64              `obj:"id"`
	UUID       string             `obj:"uuid,uuid"`
	Host       *string            `obj:"host,nullable"`
	VMState    string             `obj:"vm_state,enum=active|building|error,default=building"`
	MemoryMB   int64              `obj:"memory_mb"`
	Locked     bool               `obj:"locked"`
	Progress   *float64           `obj:"progress,nullable"`
	IPv4       netip.Addr         `obj:"access_ip_v4,ipv4"`
	Metadata   map[string]string  `obj:"metadata"`
	SysMeta    map[string]*string `obj:"system_metadata"`
	NUMA       map[int64]struct{} `obj:"numa_nodes"`
	Groups     []string           `obj:"groups,set"`
	Flavor     *Flavor            `obj:"flavor,nullable"`
	Tags       []*Tag             `obj:"tags,since=1.2"`
	KeyData    *string            `obj:"key_data,nullable,since=1.3"`
	Scratch    string             // not an object field
	Extra      any                `obj:"extra"`
	Naive      time.Time          `obj:"naive,naive"`
	Net        netip.Prefix       `obj:"net"`
	PowerState string             `obj:"power_state,default=running"`
}

type InstanceList struct {
	objects.Base
	Objects []*Instance `obj:"objects"`
}

func novaRegistry() *objects.Registry {
	reg := objects.NewRegistry("nova_object", "nova")
	reg.MustRegister(&Flavor{}, objects.Version("1.1"))
	reg.MustRegister(&Tag{})
	reg.MustRegister(&Instance{}, objects.Version("1.3"),
		objects.Relationship("flavor", [2]string{"1.0", "1.0"}, [2]string{"1.2", "1.1"}),
		objects.Relationship("tags", [2]string{"1.2", "1.0"}),
		objects.Downgrade("1.3", func(data map[string]any) error {
			if v, ok := data["memory_mb"].(int64); ok {
				data["memory_mb"] = strconv.FormatInt(v, 10)
			}
			return nil
		}))
	reg.MustRegister(&InstanceList{}, objects.Version("1.1"),
		objects.ObjectList([2]string{"1.0", "1.1"}, [2]string{"1.1", "1.3"}))
	return reg
}

func ptr[T any](v T) *T { return &v }
