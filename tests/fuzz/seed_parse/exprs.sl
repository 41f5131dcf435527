val g = generator("kv", rate = 1000, keys = 100)
g.map(l => { val f = l.split(","); (f(0), f(1).toDouble) }).filter { case (k, v) => v >= -1.5e3 && k != "x" }
  .map(t => if (t._2 > 0.5) t._1.toUpperCase else "ñ — \"q\" \t\u00e9").count().print()
g.map(s => s.csvField(2).toLong % 7L).reduce(math.max(_, _)).print()
