package main

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// masters is the run's Redis seen as its masters: one server in single and sentinel mode, every master of
// a Cluster.
type masters struct {
	each  func(ctx context.Context, fn func(context.Context, *goredis.Client) error) error
	close func() error
}

// openMasters connects to the Redis at url in mode (single, sentinel or cluster), with go-redis's parsers.
func openMasters(url, mode string) (*masters, error) {
	switch mode {
	case "cluster":
		opts, err := goredis.ParseClusterURL(url)
		if err != nil {
			return nil, err
		}
		rdb := goredis.NewClusterClient(opts)
		return &masters{each: rdb.ForEachMaster, close: rdb.Close}, nil
	case "sentinel":
		opts, err := goredis.ParseFailoverURL(url)
		if err != nil {
			return nil, err
		}
		return one(goredis.NewFailoverClient(opts)), nil
	default:
		opts, err := goredis.ParseURL(url)
		if err != nil {
			return nil, err
		}
		return one(goredis.NewClient(opts)), nil
	}
}

func one(rdb *goredis.Client) *masters {
	return &masters{each: func(ctx context.Context, fn func(context.Context, *goredis.Client) error) error { return fn(ctx, rdb) },
		close: rdb.Close}
}

// clean removes the run's keys (they would expire within store.Retention anyway), on every master.
func (m *masters) clean(prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.each(ctx, func(ctx context.Context, rdb *goredis.Client) error {
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val()) // one by one: on Cluster one node's keys are in many slots
		}
		return iter.Err()
	})
}

// cpu is the CPU time the masters have used (INFO cpu: used_cpu_user + used_cpu_sys), in seconds.
func (m *masters) cpu(ctx context.Context) (float64, error) {
	var total float64
	err := m.each(ctx, func(ctx context.Context, rdb *goredis.Client) error {
		info, err := rdb.Info(ctx, "cpu").Result()
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(strings.NewReader(info))
		for sc.Scan() {
			k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return err
				}
				total += f
			}
		}
		return nil
	})
	return total, err
}
