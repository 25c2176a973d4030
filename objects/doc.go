// Package objects is oslo.versionedobjects for Go: objects that travel
// over RPC as oslo's versioned primitives, so that a Go service can call
// nova-conductor, serve Karbor's operation engine, or talk to any Python
// service whose RPC API passes objects rather than dicts.
//
// # Objects
//
// An object type is a struct that embeds [Base]; a pointer to it is an
// [Object]. Its fields are the struct fields tagged obj:"name,options", and
// a [Registry] holds the types of one project by name:
//
//	type Flavor struct {
//		objects.Base
//		ID         int64             `obj:"id"`
//		Name       string            `obj:"name"`
//		MemoryMB   int64             `obj:"memory_mb"`
//		ExtraSpecs map[string]string `obj:"extra_specs,since=1.1"`
//	}
//
//	type Instance struct {
//		objects.Base
//		UUID       string            `obj:"uuid,uuid"`
//		Host       *string           `obj:"host,nullable"`
//		VMState    string            `obj:"vm_state,enum=active|building|stopped|error,default=building"`
//		LaunchedAt *time.Time        `obj:"launched_at,nullable"`
//		AccessIPv4 *netip.Addr       `obj:"access_ip_v4,nullable,ipv4"`
//		Metadata   map[string]string `obj:"metadata"`
//		NUMANodes  map[int64]struct{} `obj:"numa_nodes"`
//		Flavor     *Flavor           `obj:"flavor,nullable"`
//		Tags       []*Tag            `obj:"tags,since=1.2"`
//	}
//
//	var Nova = objects.NewRegistry("nova_object", "nova")
//
//	func init() {
//		Nova.MustRegister(&Flavor{}, objects.Version("1.1"))
//		Nova.MustRegister(&Tag{})
//		Nova.MustRegister(&Instance{}, objects.Version("1.2"),
//			objects.Relationship("flavor", [2]string{"1.0", "1.0"}, [2]string{"1.2", "1.1"}),
//			objects.Relationship("tags", [2]string{"1.2", "1.0"}))
//	}
//
// The Go type of a field gives its oslo field type:
//
//	string                  StringField (uuid: UUIDField; enum=a|b: EnumField)
//	int, int64, uint, ...   IntegerField
//	float64, float32        FloatField
//	bool                    BooleanField
//	time.Time               DateTimeField (naive: tzinfo_aware=False)
//	netip.Addr              IPAddressField (ipv4, ipv6: IPV4AddressField, IPV6AddressField)
//	netip.Prefix            IPNetworkField
//	[]T                     ListOfXField (set: SetOfXField)
//	map[T]struct{}          SetOfXField
//	map[string]T            DictOfXField (map[string]*string: DictOfNullableStringsField)
//	*T, T an object type    ObjectField
//	[]*T                    ListOfObjectsField
//	any                     FieldType(): the wire value as it is
//
// A pointer to a scalar can hold None; a field accepts None only when it is
// tagged nullable. Received values are converted as oslo converts them
// (from_primitive, then coerce): a String field takes numbers (str(1.5) is
// "1.5", str(True) "True"), an Integer field strings and floats (int("12"),
// int(1.9) is 1), a Boolean field anything (Python's truth value: "false"
// is true), a DateTime field the ISO 8601 forms Python's iso8601 parses
// (UTC when no zone is given); None in a non-nullable field takes the
// field's default, or fails. Errors are [*FieldError]s carrying Python's
// message and exception class.
//
// # Wire form
//
// [Registry.ToPrimitive] writes oslo's primitive,
//
//	{"nova_object.name": "Instance", "nova_object.namespace": "nova",
//	 "nova_object.version": "1.2", "nova_object.data": {...},
//	 "nova_object.changes": ["host"]}
//
// with only set fields in data, and [Registry.FromPrimitive] reads it.
// DateTime values are written as oslo's isotime writes them: seconds
// precision, "Z" for UTC, "+HH:MM" otherwise (Go writes "Z" for every zero
// offset; Python writes "+00:00" for one it parsed as such). Sets are
// sorted lists.
//
// # Change tracking
//
// Fields are plain struct fields, so change tracking needs no setters: a
// field is changed when [Base.MarkChanged] named it (or it arrived in the
// primitive's changes), or when its value differs from the one it had when
// the object was decoded or [ResetChanges] last ran. A field holding an
// object counts as changed when that object has changes (oslo's
// obj_what_changed); a list of objects does not, except the objects field
// of an [ObjectList] type. A field is set ([IsSet]) once it arrived in a
// primitive, was marked, or holds a non-zero value; set a field to its
// zero value on a new object with MarkChanged. The tracking state lives in
// Base and survives encoding/json and msgpack round trips, which the RPC
// client and dispatcher make when they bind deserialized values to Go
// types.
//
// # Versions
//
// [Version] is the type's current version. The history is declared next
// to the type: since= in a field's tag drops the field when the object is
// sent at an older version, [Downgrade] converts a representation changed
// in a version, and [Relationship] maps this object's versions to those of
// the objects it holds (oslo's obj_relationships). [TargetVersion] makes an
// object compatible with an older version (oslo's obj_make_compatible), and
// [Manifest] does it by a table of object versions (version_manifest, as a
// conductor gets in a backport request). A received version is taken when
// it has the registered major and a minor no newer than the registered one
// (the object keeps it, [VersionOf]); a newer one is an
// [*IncompatibleObjectVersionError].
//
// # Over RPC
//
// [Serializer] is the [serializer.Serializer] for client.WithSerializer
// and server.DispatchOptions(dispatcher.WithSerializer(...)) (oslo's VersionedObjectSerializer,
// NovaObjectSerializer with a Nova registry). A Nova compute-like server
// that can ask nova-conductor for backports:
//
//	cond, _ := client.New(tr, target.Target{Topic: "conductor", Version: "3.0"})
//	ser := objects.NewSerializer(Nova, objects.WithIndirection(objects.NewConductorAPI(cond)))
//	srv, _ := server.New(tr, target.Target{Topic: "compute", Server: host},
//		[]any{&ComputeManager{}}, server.DispatchOptions(dispatcher.WithSerializer(ser)))
//
//	type InstanceArgs struct {
//		Instance *Instance `json:"instance"`
//	}
//
//	func (m *ComputeManager) RebootInstance(ctx context.Context, a InstanceArgs) (*Instance, error) {
//		a.Instance.VMState = "active" // sent back with changes ["vm_state"]
//		return a.Instance, nil
//	}
//
// and a client of an older peer, capping the object versions it sends:
//
//	c, _ := client.New(tr, target.Target{Topic: "compute", Version: "5.0"},
//		client.WithSerializer(objects.NewSerializer(Nova,
//			objects.VersionCaps(map[string]string{"Instance": "1.1", "Flavor": "1.0"}))))
//
// or per call, after c.CanSendVersion, with [AtVersion]. [ConductorEndpoint]
// serves object_backport_versions for peers that know older versions than
// a Go registry. Errors travel as oslo's exception classes
// (oslo_versionedobjects.exception.IncompatibleObjectVersion, ...): Python
// peers re-raise them when that module is among their allowed_remote_exmods,
// and Go callers match them with errors.Is ([ErrIncompatibleObjectVersion])
// and, with [RemoteErrors], errors.As.
package objects
