package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdOps are the op labels of gantry_etcd_request_duration_seconds.
var etcdOps = []string{"get", "put", "delete", "txn"}

// InstrumentKV returns kv timing every request into
// gantry_etcd_request_duration_seconds. Install it as etcd's namespace
// wrapper is installed, before the client is shared:
//
//	cli.KV = m.InstrumentKV(cli.KV)
//
// It measures every KV call of the coordinator, whichever package makes
// it, whether etcd is embedded (called in process) or a cluster. A
// transaction costs one small allocation more (its timing wrapper).
func (m *Coordinator) InstrumentKV(kv clientv3.KV) clientv3.KV {
	return &timedKV{
		KV:     kv,
		get:    m.etcd.WithLabelValues("get"),
		put:    m.etcd.WithLabelValues("put"),
		delete: m.etcd.WithLabelValues("delete"),
		txn:    m.etcd.WithLabelValues("txn"),
	}
}

// timedKV times Get, Put, Delete and transactions' Commit; the rest
// (Do, Compact, streams) passes through.
type timedKV struct {
	clientv3.KV
	get, put, delete, txn prometheus.Observer
}

func since(o prometheus.Observer, start time.Time) { o.Observe(time.Since(start).Seconds()) }

func (k *timedKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	defer since(k.get, time.Now())
	return k.KV.Get(ctx, key, opts...)
}

func (k *timedKV) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	defer since(k.put, time.Now())
	return k.KV.Put(ctx, key, val, opts...)
}

func (k *timedKV) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error) {
	defer since(k.delete, time.Now())
	return k.KV.Delete(ctx, key, opts...)
}

func (k *timedKV) Txn(ctx context.Context) clientv3.Txn {
	return &timedTxn{Txn: k.KV.Txn(ctx), obs: k.txn}
}

// timedTxn times a transaction's Commit. If, Then and Else return it, so
// the Commit of a chained call is the timed one.
type timedTxn struct {
	clientv3.Txn
	obs prometheus.Observer
}

func (t *timedTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.Txn = t.Txn.If(cs...)
	return t
}

func (t *timedTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.Txn = t.Txn.Then(ops...)
	return t
}

func (t *timedTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.Txn = t.Txn.Else(ops...)
	return t
}

func (t *timedTxn) Commit() (*clientv3.TxnResponse, error) {
	defer since(t.obs, time.Now())
	return t.Txn.Commit()
}
